// cluster-health: each member's health (with etcd 3.5's reason), version,
// leader and raft index; a non-zero exit when any member is not healthy.
package command

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/meycoin/goetcd/client"
	"github.com/urfave/cli"
)

// healthInterval is the pause between two checks of --forever.
const healthInterval = 10 * time.Second

func (r *runner) clusterHealthCommand() cli.Command {
	return cli.Command{
		Name:      "cluster-health",
		Usage:     "check the health of the etcd cluster",
		ArgsUsage: " ",
		Flags: []cli.Flag{
			cli.BoolFlag{Name: "forever, f", Usage: "forever check the health every 10 second until CTRL+C"},
		},
		Action: r.clusterHealth,
	}
}

func (r *runner) clusterHealth(c *cli.Context) error {
	hc, err := r.newClient(c, true)
	if err != nil {
		return err
	}
	ctx, cancel := r.totalTimeout(c)
	members, err := client.NewMembersAPI(hc).List(ctx)
	cancel()
	if err != nil {
		fmt.Fprintln(r.env.Stdout, "cluster may be unhealthy: failed to list members")
		return r.keysError(c, err)
	}
	for {
		healthy := 0
		for _, m := range members {
			if r.checkMember(c, hc, m) {
				healthy++
			}
		}
		switch {
		case healthy == len(members):
			fmt.Fprintln(r.env.Stdout, "cluster is healthy")
		case healthy > 0:
			fmt.Fprintf(r.env.Stdout, "cluster is degraded: %d of %d members are not healthy\n", len(members)-healthy, len(members))
		default:
			fmt.Fprintln(r.env.Stdout, "cluster is unhealthy")
		}
		if !c.Bool("forever") {
			if healthy == len(members) {
				return nil
			}
			return fail(ExitClusterNotHealthy, "")
		}
		fmt.Fprintf(r.env.Stdout, "\nnext check after 10 second...\n\n")
		select {
		case <-r.ctx.Done():
			return nil
		case <-time.After(healthInterval):
		}
	}
}

// checkMember prints one member's line and reports whether it is healthy:
// the first of its client URLs that answers /health decides.
func (r *runner) checkMember(c *cli.Context, hc client.Client, m client.Member) bool {
	if len(m.ClientURLs) == 0 {
		fmt.Fprintf(r.env.Stdout, "member %s is unreachable: no available published client urls\n", m.ID)
		return false
	}
	for _, u := range m.ClientURLs {
		st, err := client.NewMemberStatusAPI(hc, u)
		if err != nil {
			fmt.Fprintf(r.env.Stdout, "failed to check the health of member %s on %s: %v\n", m.ID, u, err)
			continue
		}
		ctx, cancel := r.totalTimeout(c)
		h, err := st.Health(ctx)
		cancel()
		if err != nil {
			fmt.Fprintf(r.env.Stdout, "failed to check the health of member %s on %s: %v\n", m.ID, u, err)
			continue
		}
		details := r.memberDetails(c, hc, st, u)
		if h.Healthy {
			fmt.Fprintf(r.env.Stdout, "member %s is healthy: got healthy result from %s (%s)\n", m.ID, u, details)
			return true
		}
		reason := h.Reason
		if reason == "" {
			reason = "no reason given"
		}
		fmt.Fprintf(r.env.Stdout, "member %s is unhealthy: got unhealthy result from %s: %s (%s)\n", m.ID, u, reason, details)
		return false
	}
	fmt.Fprintf(r.env.Stdout, "member %s is unreachable: %v are all unreachable\n", m.ID, m.ClientURLs)
	return false
}

// memberDetails says what the member at u reports about itself: its
// version, the leader it follows and its raft index (from a read of the
// root directory, the one answer that carries X-Raft-Index). A part that
// cannot be read says why.
func (r *runner) memberDetails(c *cli.Context, hc client.Client, st client.StatusAPI, u string) string {
	ctx, cancel := r.totalTimeout(c)
	defer cancel()
	var parts []string
	if v, err := st.Version(ctx); err == nil {
		parts = append(parts, "version "+v.Server)
	} else {
		parts = append(parts, "version unknown: "+err.Error())
	}
	if s, err := st.SelfStats(ctx); err == nil && s.LeaderInfo.Leader != "" {
		parts = append(parts, "leader "+s.LeaderInfo.Leader)
	} else if err != nil {
		parts = append(parts, "leader unknown: "+err.Error())
	} else {
		parts = append(parts, "no leader")
	}
	parts = append(parts, r.raftIndex(ctx, u))
	return strings.Join(parts, ", ")
}

// raftIndex reads "/" from the member at u alone (with the command's
// transport and credentials) and returns its raft index, or why it could
// not.
func (r *runner) raftIndex(ctx context.Context, u string) string {
	cfg := r.cfg
	cfg.Endpoints = []string{u}
	one, err := client.New(cfg)
	if err != nil {
		return "raft index unknown: " + err.Error()
	}
	resp, err := client.NewKeysAPI(one).Get(ctx, "/", nil)
	if err != nil {
		return "raft index unknown: " + err.Error()
	}
	return "raft index " + itoa(resp.RaftIndex)
}
