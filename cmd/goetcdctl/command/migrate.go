// migrate: the online migration of a v2 tree into the v3 store
// (v3keys.Migrate), with a progress bar on a terminal and one summary line
// otherwise, and the comparison of both trees (v3keys.Verify).
package command

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/meycoin/goetcd/client"
	"github.com/meycoin/goetcd/v3keys"
	"github.com/schollz/progressbar/v3"
	"github.com/urfave/cli"
)

// ExitDifferences is the exit code of migrate --verify when the trees
// differ.
const ExitDifferences = 6

func (r *runner) migrateCommand() cli.Command {
	return cli.Command{
		Name:      "migrate",
		Usage:     "copy a v2 tree into the v3 store and keep it up to date (online, resumable)",
		ArgsUsage: "[key]",
		Description: `Migrate copies the v2 tree under <key> (default "/") into etcd's v3 store,
   in the layout of goetcd's v3 backend (v3keys) under --prefix, while the
   application keeps writing to v2: one consistent read of the tree, written
   in batched transactions, then every later v2 change applied in order.
   It never writes to v2. The progress is kept in <prefix>/migrate, so a
   run stopped at any point (even killed) and started again resumes where it
   stopped; a prefix that holds other data is refused.

   Without --follow it returns once every v2 change is applied (lag 0);
   with --follow it keeps applying them until interrupted (Ctrl-C), or
   until the lag is at most --until-lag indexes. --verify then compares
   both trees (values, directories, TTLs within --ttl-tolerance) and lists
   the differences by key (exit 6 when there are any). --dry-run reads both
   sides and says what the copy would write, writing nothing.

   Cut-over: stop the v2 writers, run with --until-lag 0 --verify, then
   point the application at the v3 backend.`,
		Flags: []cli.Flag{
			cli.StringFlag{Name: "v3-endpoints", Usage: "comma-separated client URLs of the v3 cluster (default: the --endpoints of v2)"},
			cli.StringFlag{Name: "prefix", Value: v3keys.DefaultPrefix, Usage: "the v3 key prefix the tree is kept under (v3keys.Config.Prefix)"},
			cli.BoolFlag{Name: "follow", Usage: "keep applying v2 changes after the copy until interrupted"},
			cli.IntFlag{Name: "until-lag", Value: -1, Usage: "with --follow: stop once the lag is at most this many indexes (0: fully caught up)"},
			cli.BoolFlag{Name: "verify", Usage: "compare both trees at the end and list the differences"},
			cli.DurationFlag{Name: "ttl-tolerance", Value: time.Second, Usage: "how far apart expirations may be for --verify"},
			cli.BoolFlag{Name: "dry-run", Usage: "say what the copy would write; write nothing"},
			cli.IntFlag{Name: "batch-ops", Value: 128, Usage: "most operations per v3 transaction (the v3 cluster's --max-txn-ops)"},
		},
		Action: r.bulkAction(func(c *cli.Context, hc client.Client) error {
			root := "/"
			if len(c.Args()) > 0 {
				root = c.Args()[0]
			}
			if len(c.Args()) > 1 {
				return fail(ExitBadArgs, "migrate takes one key, got %d arguments", len(c.Args()))
			}
			target, err := r.v3Target(c)
			if err != nil {
				return err
			}
			return r.migrate(c, client.NewKeysAPI(hc), target, root)
		}),
	}
}

// v3Target makes the v3 KeysAPI of --v3-endpoints and --prefix, with the
// transport of the v2 client (its TLS flags).
func (r *runner) v3Target(c *cli.Context) (client.KeysAPI, error) {
	eps := r.cfg.Endpoints
	if s := c.String("v3-endpoints"); s != "" {
		eps = strings.Split(s, ",")
	}
	tr, err := r.transport(c)
	if err != nil {
		return nil, fail(ExitBadArgs, "%v", err)
	}
	k, err := v3keys.New(v3keys.Config{Endpoints: eps, Prefix: c.String("prefix"), Transport: tr, HeaderTimeoutPerRequest: r.cfg.HeaderTimeoutPerRequest})
	if err != nil {
		return nil, fail(ExitBadArgs, "Error:  %v", err)
	}
	return k, nil
}

// migrate runs the migration and the verification.
func (r *runner) migrate(c *cli.Context, from, to client.KeysAPI, root string) error {
	start := time.Now()
	level := slog.LevelWarn
	if c.GlobalBool("debug") {
		level = slog.LevelInfo
	}
	opts := v3keys.MigrateOptions{
		Root:     root,
		DryRun:   c.Bool("dry-run"),
		BatchOps: c.Int("batch-ops"),
		Follow:   c.Bool("follow") && c.Int("until-lag") != 0,
		Logger:   slog.New(slog.NewTextHandler(r.env.Stderr, &slog.HandlerOptions{Level: level})),
	}
	ctx, cancel := context.WithCancel(r.ctx)
	defer cancel()
	bar := r.newMigrateBar()
	untilLag := c.Int("until-lag")
	stoppedAtLag := false
	opts.Progress = func(p v3keys.MigrateProgress) {
		bar.show(p)
		if opts.Follow && untilLag > 0 && p.Phase == v3keys.PhaseFollow && p.SourceIndex > 0 && p.LagIndexes <= uint64(untilLag) {
			stoppedAtLag = true
			cancel()
		}
	}
	p, err := v3keys.Migrate(ctx, from, to, opts)
	bar.finish()
	if err != nil && !(errors.Is(err, context.Canceled) && (r.ctx.Err() != nil || stoppedAtLag)) {
		var fe *v3keys.ForeignDataError
		if errors.As(err, &fe) {
			return fail(ExitBadArgs, "Error:  %v", err)
		}
		return r.keysError(c, err)
	}
	fmt.Fprintln(r.env.Stderr, summaryLine(p, opts.DryRun, time.Since(start)))
	if !c.Bool("verify") {
		return nil
	}
	vctx, vcancel := context.WithCancel(context.WithoutCancel(r.ctx))
	defer vcancel()
	d, err := v3keys.Verify(vctx, from, to, v3keys.VerifyOptions{Root: root, TTLTolerance: c.Duration("ttl-tolerance")})
	if err != nil {
		return r.keysError(c, err)
	}
	for _, x := range d {
		fmt.Fprintln(r.env.Stdout, x.String())
	}
	fmt.Fprintf(r.env.Stderr, "verify: %d differences under %s\n", len(d), root)
	if len(d) > 0 {
		return fail(ExitDifferences, "")
	}
	return nil
}

// summaryLine says what a migration did.
func summaryLine(p v3keys.MigrateProgress, dryRun bool, took time.Duration) string {
	if dryRun {
		return fmt.Sprintf("dry run: the snapshot at index %d holds %d nodes; the copy would write %d and delete %d (%d are in v3 already)",
			p.SnapshotIndex, p.KeysTotal, p.Puts, p.Deletes, p.KeysCopied)
	}
	copied := "resumed"
	if p.KeysTotal > 0 {
		copied = fmt.Sprintf("copied %d nodes from the snapshot at index %d (%d written, %d deleted)", p.KeysTotal, p.SnapshotIndex, p.Puts, p.Deletes)
	}
	return fmt.Sprintf("migrate: %s, applied %d events up to index %d, lag %d indexes, %d re-copies, in %s",
		copied, p.EventsApplied, p.AppliedIndex, p.LagIndexes, p.Reconciles, took.Round(time.Millisecond))
}

// migrateBar shows a migration's progress on a terminal: a bar of the
// nodes copied, then the events applied and the lag.
type migrateBar struct {
	bar   *progressbar.ProgressBar
	phase string
}

func (r *runner) newMigrateBar() *migrateBar {
	if _, ok := terminalFd(r.env.Stderr); !ok {
		return &migrateBar{}
	}
	return &migrateBar{bar: progressbar.NewOptions(-1,
		progressbar.OptionSetWriter(r.env.Stderr),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)}
}

func (b *migrateBar) show(p v3keys.MigrateProgress) {
	if b.bar == nil {
		return
	}
	if p.Phase == v3keys.PhaseCopy {
		if b.phase != p.Phase {
			b.bar.ChangeMax(p.KeysTotal)
		}
		b.bar.Describe(fmt.Sprintf("copying index %d", p.SnapshotIndex))
		_ = b.bar.Set(p.KeysCopied)
	} else {
		if b.phase != p.Phase {
			b.bar.ChangeMax(-1)
		}
		b.bar.Describe(fmt.Sprintf("following: index %d, lag %d (%s)", p.AppliedIndex, p.LagIndexes, p.Lag.Round(100*time.Millisecond)))
		_ = b.bar.Set64(p.EventsApplied)
	}
	b.phase = p.Phase
}

func (b *migrateBar) finish() {
	if b.bar != nil {
		_ = b.bar.Finish()
	}
}
