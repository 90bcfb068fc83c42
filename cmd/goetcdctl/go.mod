module github.com/meycoin/goetcd/cmd/goetcdctl

go 1.26.0

require (
	github.com/meycoin/goetcd v0.0.0-20261204211803-3916b9639431
	github.com/schollz/progressbar/v3 v3.19.1
	github.com/urfave/cli v1.22.17
	golang.org/x/term v0.48.0
)

require (
	github.com/cpuguy83/go-md2man/v2 v2.0.7 // indirect
	github.com/hashicorp/go-cleanhttp v0.5.2 // indirect
	github.com/hashicorp/go-retryablehttp v0.7.8 // indirect
	github.com/mitchellh/colorstring v0.0.0-20190213212951-d06e56a500db // indirect
	github.com/rivo/uniseg v0.4.7 // indirect
	github.com/russross/blackfriday/v2 v2.1.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
)
