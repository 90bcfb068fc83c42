#!/bin/sh
# templates.sh DIR: writes into DIR the two client templates oapi-codegen.yaml
# passes as user-templates: the pinned generator's own (tools/go.mod), taken
# from the module cache, with every call of its run-time library (runtime.)
# made a call of internal/genruntime (genruntime.). Run from the repository
# root; `make generate` and `make check-generated` run it.
set -e
out=${1:?usage: templates.sh DIR}
dir=$(GOWORK=off GOFLAGS= go mod download -modfile=tools/go.mod -json github.com/oapi-codegen/oapi-codegen/v2 |
	sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
if [ ! -d "$dir/pkg/codegen/templates" ]; then
	echo "templates.sh: the pinned oapi-codegen has no templates directory (got '$dir')" >&2
	exit 1
fi
mkdir -p "$out"
for t in client.tmpl client-with-responses.tmpl; do
	sed 's/\([^[:alnum:]_]\)runtime\./\1genruntime./g; s/^runtime\./genruntime./' "$dir/pkg/codegen/templates/$t" >"$out/$t"
	if ! grep -q 'genruntime\.' "$out/$t"; then
		echo "templates.sh: $t calls no run-time helper any more: check the pinned generator" >&2
		exit 1
	fi
done
