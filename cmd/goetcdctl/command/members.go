// member list, add, update and remove.
package command

import (
	"fmt"
	"strings"

	"github.com/meycoin/goetcd/client"
	"github.com/urfave/cli"
)

// apiError ends a member, user, role or auth command on err: exit 1 with
// the error, as etcdctl does for these commands.
func apiError(err error) error {
	return fail(ExitBadArgs, "%s", describe(err))
}

// membersAction makes the client, with the membership sync, and the
// members API for run.
func (r *runner) membersAction(run func(c *cli.Context, m client.MembersAPI) error) cli.ActionFunc {
	return r.withClient(func(c *cli.Context, hc client.Client) error {
		return run(c, client.NewMembersAPI(hc))
	})
}

func (r *runner) memberCommand() cli.Command {
	return cli.Command{
		Name:  "member",
		Usage: "member add, remove and list subcommands",
		Subcommands: []cli.Command{
			{Name: "list", Usage: "enumerate existing cluster members", ArgsUsage: " ", Action: r.memberList},
			{Name: "add", Usage: "add a new member to the etcd cluster", ArgsUsage: "<name> <peerURL>", Action: r.memberAdd},
			{Name: "remove", Usage: "remove an existing member from the etcd cluster", ArgsUsage: "<memberID>", Action: r.memberRemove},
			{Name: "update", Usage: "update an existing member in the etcd cluster", ArgsUsage: "<memberID> <peerURLs>", Action: r.memberUpdate},
		},
	}
}

func (r *runner) memberList(c *cli.Context) error {
	if len(c.Args()) != 0 {
		return fail(ExitBadArgs, "No arguments accepted")
	}
	return r.membersAction(func(c *cli.Context, m client.MembersAPI) error {
		ctx, cancel := r.totalTimeout(c)
		defer cancel()
		members, err := m.List(ctx)
		if err != nil {
			return apiError(err)
		}
		leader, err := m.Leader(ctx)
		if err != nil {
			return fail(ExitBadArgs, "Failed to get leader:  %s", describe(err))
		}
		for _, mb := range members {
			if mb.Name == "" {
				fmt.Fprintf(r.env.Stdout, "%s[unstarted]: peerURLs=%s\n", mb.ID, strings.Join(mb.PeerURLs, ","))
				continue
			}
			fmt.Fprintf(r.env.Stdout, "%s: name=%s peerURLs=%s clientURLs=%s isLeader=%v\n", mb.ID, mb.Name, strings.Join(mb.PeerURLs, ","), strings.Join(mb.ClientURLs, ","), mb.ID == leader.ID)
		}
		return nil
	})(c)
}

func (r *runner) memberAdd(c *cli.Context) error {
	args := c.Args()
	if len(args) != 2 {
		return fail(ExitBadArgs, "Provide a name and a single member peerURL")
	}
	return r.membersAction(func(c *cli.Context, m client.MembersAPI) error {
		ctx, cancel := r.totalTimeout(c)
		defer cancel()
		name := args[0]
		added, err := m.Add(ctx, args[1])
		if err != nil {
			return apiError(err)
		}
		fmt.Fprintf(r.env.Stdout, "Added member named %s with ID %s to cluster\n", name, added.ID)
		members, err := m.List(ctx)
		if err != nil {
			return apiError(err)
		}
		var conf []string
		for _, mb := range members {
			n := mb.Name
			if mb.ID == added.ID {
				n = name
			}
			for _, u := range mb.PeerURLs {
				conf = append(conf, fmt.Sprintf("%s=%s", n, u))
			}
		}
		fmt.Fprint(r.env.Stdout, "\n")
		fmt.Fprintf(r.env.Stdout, "ETCD_NAME=%q\n", name)
		fmt.Fprintf(r.env.Stdout, "ETCD_INITIAL_CLUSTER=%q\n", strings.Join(conf, ","))
		fmt.Fprintf(r.env.Stdout, "ETCD_INITIAL_CLUSTER_STATE=\"existing\"\n")
		return nil
	})(c)
}

func (r *runner) memberRemove(c *cli.Context) error {
	args := c.Args()
	if len(args) != 1 {
		return fail(ExitBadArgs, "Provide a single member ID")
	}
	id := args[0]
	return r.membersAction(func(c *cli.Context, m client.MembersAPI) error {
		ctx, cancel := r.totalTimeout(c)
		defer cancel()
		members, err := m.List(ctx)
		if err != nil {
			return fail(ExitBadArgs, "Error while verifying ID against known members: %s", describe(err))
		}
		found := false
		for _, mb := range members {
			if mb.ID == id {
				found = true
			}
			if mb.Name == id {
				fmt.Fprintf(r.env.Stderr, "Found a member named %s; if this is correct, please use its ID, eg:\n\tgoetcdctl member remove %s\n\n", mb.Name, mb.ID)
			}
		}
		if !found {
			return fail(ExitBadArgs, "Couldn't find a member in the cluster with an ID of %s.", id)
		}
		if err := m.Remove(ctx, id); err != nil {
			return fail(ExitBadArgs, "Received an error trying to remove member %s: %s", id, describe(err))
		}
		fmt.Fprintf(r.env.Stdout, "Removed member %s from cluster\n", id)
		return nil
	})(c)
}

func (r *runner) memberUpdate(c *cli.Context) error {
	args := c.Args()
	if len(args) != 2 {
		return fail(ExitBadArgs, "Provide an ID and a list of comma separated peerURL (0xabcd http://example.com,http://example1.com)")
	}
	return r.membersAction(func(c *cli.Context, m client.MembersAPI) error {
		ctx, cancel := r.totalTimeout(c)
		defer cancel()
		if err := m.Update(ctx, args[0], strings.Split(args[1], ",")); err != nil {
			return apiError(err)
		}
		fmt.Fprintf(r.env.Stdout, "Updated member with ID %s in cluster\n", args[0])
		return nil
	})(c)
}
