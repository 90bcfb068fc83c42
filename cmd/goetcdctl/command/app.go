// Package command is goetcdctl: the etcd v2 command line of etcdctl 3.4
// (same commands, flags, arguments, output and exit codes) built on the
// goetcd client, plus watches that survive member failures, export/import
// of a subtree, a detailed cluster-health and shell completion.
//
// Run executes one command line against an Env, so that the program's main
// and tests share one entry point; nothing in this package calls os.Exit.
package command

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/meycoin/goetcd/client"
	"github.com/urfave/cli"
)

// Version is what --version prints.
const Version = "0.1.0"

// Exit codes, as etcdctl v2 uses them.
const (
	// ExitSuccess is a command that did what it was asked.
	ExitSuccess = 0
	// ExitBadArgs is a missing or wrong argument or flag, and the code of
	// the member, user, role and auth commands' errors.
	ExitBadArgs = 1
	// ExitBadConnection is a cluster that could not be reached while
	// synchronising its membership.
	ExitBadConnection = 2
	// ExitBadAuth is kept for compatibility; it is also urfave/cli's code
	// for an unknown command.
	ExitBadAuth = 3
	// ExitServerError is an error answered by etcd or a failed keys call.
	ExitServerError = 4
	// ExitClusterNotHealthy is cluster-health's code when a member is not
	// healthy.
	ExitClusterNotHealthy = 5
)

// Env is what one run of the command line sees of its process.
type Env struct {
	// Args is the command line, program name first.
	Args []string
	// Stdin, Stdout and Stderr are the standard streams. When Stdin or
	// Stderr is an *os.File on a terminal, passwords are read without echo
	// and export/import draw a progress bar.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Getenv reads the ETCDCTL_* variables; nil reads nothing.
	Getenv func(string) string
	// Environ is the environment exec-watch's commands inherit; nil means
	// none besides the ETCD_WATCH_* variables.
	Environ []string
	// Transport, when set, replaces the HTTP transport made from the TLS
	// flags (tests put a validating transport here).
	Transport client.CancelableTransport
}

// OSEnv is the Env of this process.
func OSEnv() Env {
	return Env{Args: os.Args, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, Environ: os.Environ()}
}

// exitError ends a command with a code and a message for standard error.
type exitError struct {
	code int
	msg  string // printed as is (with a newline) unless empty
}

func (e *exitError) Error() string { return e.msg }
func (e *exitError) ExitCode() int { return e.code }

func fail(code int, format string, args ...any) error {
	return &exitError{code: code, msg: fmt.Sprintf(format, args...)}
}

var setupOnce sync.Once

// setupCLI sets urfave/cli's process-wide hooks once: the version text, and
// an exit function that does nothing, because Run returns the code instead.
func setupCLI() {
	setupOnce.Do(func() {
		cli.VersionPrinter = func(c *cli.Context) {
			fmt.Fprintf(c.App.Writer, "goetcdctl version: %v\n", c.App.Version)
			fmt.Fprintln(c.App.Writer, "API version: 2")
		}
		cli.OsExiter = func(int) {}
	})
}

// Run executes env.Args and returns the exit code. ctx ends long-running
// commands (watch, exec-watch, cluster-health --forever): the program's
// main cancels it on SIGINT, and they then exit 0 as etcdctl does.
func Run(ctx context.Context, env Env) int {
	setupCLI()
	if env.Getenv == nil {
		env.Getenv = func(string) string { return "" }
	}
	if env.Stdin == nil {
		env.Stdin = eofReader{}
	}
	r := &runner{ctx: ctx, env: env}
	app := r.newApp()
	var handled error
	app.ExitErrHandler = func(_ *cli.Context, err error) { handled = err }
	err := app.Run(env.Args)
	if err == nil {
		err = handled
	}
	r.close()
	return r.exitCode(err)
}

func (r *runner) exitCode(err error) int {
	if err == nil {
		return ExitSuccess
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintln(r.env.Stderr, ee.msg)
		}
		return ee.code
	}
	var ec cli.ExitCoder
	if errors.As(err, &ec) {
		if msg := err.Error(); msg != "" {
			fmt.Fprintln(r.env.Stderr, msg)
		}
		return ec.ExitCode()
	}
	// A usage error of urfave/cli (unknown flag, bad flag value): its help
	// text went to standard output already.
	fmt.Fprintln(r.env.Stderr, err)
	return ExitBadArgs
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// runner holds one run's environment and the client it made, if any.
type runner struct {
	ctx    context.Context
	env    Env
	stdin  *lineReader
	cfg    client.Config // of the command's client, once made
	bulk   bool          // export or import: see bulkTimeout
	closer []func()
}

func (r *runner) close() {
	for _, f := range r.closer {
		f()
	}
}

func (r *runner) newApp() *cli.App {
	app := cli.NewApp()
	app.Name = "goetcdctl"
	if len(r.env.Args) > 0 {
		// Help and usage name the program as it was called.
		app.HelpName = filepath.Base(r.env.Args[0])
	}
	app.Version = Version
	app.Usage = "A simple command line client for etcd."
	app.Writer = r.env.Stdout
	app.ErrWriter = r.env.Stderr
	app.EnableBashCompletion = true
	app.Flags = []cli.Flag{
		cli.BoolFlag{Name: "debug", Usage: "output cURL commands which can be used to reproduce the request"},
		cli.BoolFlag{Name: "no-sync", Usage: "don't synchronize cluster information before sending request"},
		cli.StringFlag{Name: "output, o", Value: "simple", Usage: "output response in the given format (`simple`, `extended` or `json`)"},
		cli.StringFlag{Name: "discovery-srv, D", Usage: "domain name to query for SRV records describing cluster endpoints"},
		cli.BoolFlag{Name: "insecure-discovery", Usage: "accept insecure SRV records describing cluster endpoints"},
		cli.StringFlag{Name: "peers, C", Value: "", Usage: "DEPRECATED - \"--endpoints\" should be used instead"},
		cli.StringFlag{Name: "endpoint", Value: "", Usage: "DEPRECATED - \"--endpoints\" should be used instead"},
		cli.StringFlag{Name: "endpoints", Value: "", Usage: "a comma-delimited list of machine addresses in the cluster (default: \"http://127.0.0.1:2379,http://127.0.0.1:4001\")"},
		cli.StringFlag{Name: "cert-file", Value: "", Usage: "identify HTTPS client using this SSL certificate file"},
		cli.StringFlag{Name: "key-file", Value: "", Usage: "identify HTTPS client using this SSL key file"},
		cli.StringFlag{Name: "ca-file", Value: "", Usage: "verify certificates of HTTPS-enabled servers using this CA bundle"},
		cli.StringFlag{Name: "username, u", Value: "", Usage: "provide username[:password] and prompt if password is not supplied."},
		cli.DurationFlag{Name: "timeout", Value: 2 * time.Second, Usage: "connection timeout per request"},
		cli.DurationFlag{Name: "total-timeout", Value: 5 * time.Second, Usage: "timeout for the command execution (except watch)"},
	}
	app.Commands = []cli.Command{
		r.clusterHealthCommand(),
		r.mkCommand(),
		r.mkdirCommand(),
		r.rmCommand(),
		r.rmdirCommand(),
		r.getCommand(),
		r.lsCommand(),
		r.setCommand(),
		r.setdirCommand(),
		r.updateCommand(),
		r.updatedirCommand(),
		r.watchCommand(),
		r.execWatchCommand(),
		r.memberCommand(),
		r.userCommand(),
		r.roleCommand(),
		r.authCommand(),
		r.exportCommand(),
		r.importCommand(),
		r.migrateCommand(),
		r.completionCommand(),
	}
	return app
}

// bulkTimeout is the context of one request of export or import: bounded
// by --total-timeout only when it is given, since reading or writing a large
// tree takes longer than the default (each request's headers are still
// bounded by the per-request timeout).
func (r *runner) bulkTimeout(c *cli.Context) (context.Context, context.CancelFunc) {
	if c.GlobalIsSet("total-timeout") {
		return r.totalTimeout(c)
	}
	return context.WithCancel(r.ctx)
}

// totalTimeout is the context of one command that is not a watch.
func (r *runner) totalTimeout(c *cli.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.ctx, c.GlobalDuration("total-timeout"))
}
