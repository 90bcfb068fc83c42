// completion: shell completion scripts for bash, zsh and fish.
package command

import (
	"fmt"

	"github.com/urfave/cli"
)

// The bash and zsh scripts ask the program itself for the words that may
// come next (urfave/cli's --generate-bash-completion); fish gets a static
// script of every command and flag.
const bashCompletion = `# goetcdctl completion for bash: source this file, or put it in
# /etc/bash_completion.d/goetcdctl.
_goetcdctl_complete() {
	local cur words
	cur="${COMP_WORDS[COMP_CWORD]}"
	if [[ "$cur" == -* ]]; then
		words=$("${COMP_WORDS[@]:0:$COMP_CWORD}" "$cur" --generate-bash-completion 2>/dev/null)
	else
		words=$("${COMP_WORDS[@]:0:$COMP_CWORD}" --generate-bash-completion 2>/dev/null)
	fi
	COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o bashdefault -o default -F _goetcdctl_complete goetcdctl
`

const zshCompletion = `#compdef goetcdctl
# goetcdctl completion for zsh: put this file in a directory of $fpath as
# _goetcdctl, or source it after compinit.
_goetcdctl() {
	local -a opts
	local cur=${words[-1]}
	if [[ "$cur" == -* ]]; then
		opts=("${(@f)$(${words[@]:0:#words[@]-1} $cur --generate-bash-completion 2>/dev/null)}")
	else
		opts=("${(@f)$(${words[@]:0:#words[@]-1} --generate-bash-completion 2>/dev/null)}")
	fi
	if [[ -n "${opts[1]}" ]]; then
		_describe 'goetcdctl' opts
	else
		_files
	fi
}
compdef _goetcdctl goetcdctl
`

func (r *runner) completionCommand() cli.Command {
	return cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script (bash, zsh or fish)",
		ArgsUsage: "bash|zsh|fish",
		Description: `Load it in the shell, e.g.
     source <(goetcdctl completion bash)
     goetcdctl completion zsh > "${fpath[1]}/_goetcdctl"
     goetcdctl completion fish > ~/.config/fish/completions/goetcdctl.fish`,
		Action: func(c *cli.Context) error {
			if len(c.Args()) != 1 {
				return fail(ExitBadArgs, "Error:  name one shell: bash, zsh or fish")
			}
			switch shell := c.Args()[0]; shell {
			case "bash":
				fmt.Fprint(r.env.Stdout, bashCompletion)
			case "zsh":
				fmt.Fprint(r.env.Stdout, zshCompletion)
			case "fish":
				script, err := c.App.ToFishCompletion()
				if err != nil {
					return fail(ExitBadArgs, "Error:  making the fish script: %v", err)
				}
				fmt.Fprint(r.env.Stdout, script)
			default:
				return fail(ExitBadArgs, "Error:  no completion for shell %q: use bash, zsh or fish", shell)
			}
			return nil
		},
	}
}
