// user, role and auth: v2 auth administration.
package command

import (
	"context"
	"fmt"
	"path"
	"reflect"
	"strings"

	"github.com/meycoin/goetcd/client"
	"github.com/urfave/cli"
)

// withClient makes the client, with the membership sync, for run.
func (r *runner) withClient(run func(c *cli.Context, hc client.Client) error) cli.ActionFunc {
	return func(c *cli.Context) error {
		hc, err := r.newClient(c, false)
		if err != nil {
			return err
		}
		return run(c, hc)
	}
}

// oneName checks that the command got exactly one argument.
func oneName(c *cli.Context, what string) (string, error) {
	if len(c.Args()) != 1 {
		return "", fail(ExitBadArgs, "Please provide a %s", what)
	}
	return c.Args()[0], nil
}

func noArgs(c *cli.Context) error {
	if len(c.Args()) != 0 {
		return fail(ExitBadArgs, "No arguments accepted")
	}
	return nil
}

// rolesFlag is made afresh for each command: a StringSlice collects every
// value it is given.
func rolesFlag() cli.Flag {
	return cli.StringSliceFlag{Name: "roles", Value: new(cli.StringSlice), Usage: "List of roles to grant or revoke"}
}

func (r *runner) userCommand() cli.Command {
	return cli.Command{
		Name:  "user",
		Usage: "user add, grant and revoke subcommands",
		Subcommands: []cli.Command{
			{Name: "add", Usage: "add a new user for the etcd cluster", ArgsUsage: "<user>", Action: r.userAdd},
			{Name: "get", Usage: "get details for a user", ArgsUsage: "<user>", Action: r.userGet},
			{Name: "list", Usage: "list all current users", ArgsUsage: "<user>", Action: r.userList},
			{Name: "remove", Usage: "remove a user for the etcd cluster", ArgsUsage: "<user>", Action: r.userRemove},
			{Name: "grant", Usage: "grant roles to an etcd user", ArgsUsage: "<user>", Flags: []cli.Flag{rolesFlag()}, Action: r.userGrantRevoke(true)},
			{Name: "revoke", Usage: "revoke roles for an etcd user", ArgsUsage: "<user>", Flags: []cli.Flag{rolesFlag()}, Action: r.userGrantRevoke(false)},
			{Name: "passwd", Usage: "change password for a user", ArgsUsage: "<user>", Action: r.userPasswd},
		},
	}
}

func (r *runner) userList(c *cli.Context) error {
	return r.listNames(c, func(ctx context.Context, hc client.Client) ([]string, error) {
		return client.NewAuthUserAPI(hc).ListUsers(ctx)
	})
}

// listNames prints the names list reads (users or roles), one a line; the
// command takes no argument.
func (r *runner) listNames(c *cli.Context, list func(context.Context, client.Client) ([]string, error)) error {
	if err := noArgs(c); err != nil {
		return err
	}
	return r.withClient(func(c *cli.Context, hc client.Client) error {
		ctx, cancel := r.totalTimeout(c)
		defer cancel()
		names, err := list(ctx, hc)
		if err != nil {
			return apiError(err)
		}
		for _, n := range names {
			fmt.Fprintln(r.env.Stdout, n)
		}
		return nil
	})(c)
}

func (r *runner) userAdd(c *cli.Context) error {
	arg, err := oneName(c, "username")
	if err != nil {
		return err
	}
	return r.withClient(func(c *cli.Context, hc client.Client) error {
		api := client.NewAuthUserAPI(hc)
		ctx, cancel := r.totalTimeout(c)
		defer cancel()
		name, pass, hasPass := strings.Cut(arg, ":")
		if u, _ := api.GetUser(ctx, name); u != nil {
			return fail(ExitBadArgs, "User %s already exists", name)
		}
		if !hasPass {
			if pass, err = r.readPassword("New password: "); err != nil {
				return fail(ExitBadArgs, "Error reading password: %v", err)
			}
		}
		if err := api.AddUser(ctx, name, pass); err != nil {
			return apiError(err)
		}
		fmt.Fprintf(r.env.Stdout, "User %s created\n", name)
		return nil
	})(c)
}

func (r *runner) userRemove(c *cli.Context) error {
	name, err := oneName(c, "username")
	if err != nil {
		return err
	}
	return r.withClient(func(c *cli.Context, hc client.Client) error {
		ctx, cancel := r.totalTimeout(c)
		defer cancel()
		if err := client.NewAuthUserAPI(hc).RemoveUser(ctx, name); err != nil {
			return apiError(err)
		}
		fmt.Fprintf(r.env.Stdout, "User %s removed\n", name)
		return nil
	})(c)
}

func (r *runner) userPasswd(c *cli.Context) error {
	name, err := oneName(c, "username")
	if err != nil {
		return err
	}
	return r.withClient(func(c *cli.Context, hc client.Client) error {
		api := client.NewAuthUserAPI(hc)
		ctx, cancel := r.totalTimeout(c)
		defer cancel()
		if _, err := api.GetUser(ctx, name); err != nil {
			return apiError(err)
		}
		pass, err := r.readPassword("New password: ")
		if err != nil {
			return fail(ExitBadArgs, "Error reading password: %v", err)
		}
		if _, err := api.ChangePassword(ctx, name, pass); err != nil {
			return apiError(err)
		}
		fmt.Fprintln(r.env.Stdout, "Password updated")
		return nil
	})(c)
}

func (r *runner) userGrantRevoke(grant bool) cli.ActionFunc {
	return func(c *cli.Context) error {
		roles := c.StringSlice("roles")
		if len(roles) == 0 {
			return fail(ExitBadArgs, "No roles specified; please use `--roles`")
		}
		name, err := oneName(c, "username")
		if err != nil {
			return err
		}
		return r.withClient(func(c *cli.Context, hc client.Client) error {
			api := client.NewAuthUserAPI(hc)
			ctx, cancel := r.totalTimeout(c)
			defer cancel()
			if _, err := api.GetUser(ctx, name); err != nil {
				return apiError(err)
			}
			if grant {
				_, err = api.GrantUser(ctx, name, roles)
			} else {
				_, err = api.RevokeUser(ctx, name, roles)
			}
			if err != nil {
				return apiError(err)
			}
			fmt.Fprintf(r.env.Stdout, "User %s updated\n", name)
			return nil
		})(c)
	}
}

func (r *runner) userGet(c *cli.Context) error {
	name, err := oneName(c, "username")
	if err != nil {
		return err
	}
	return r.withClient(func(c *cli.Context, hc client.Client) error {
		ctx, cancel := r.totalTimeout(c)
		defer cancel()
		u, err := client.NewAuthUserAPI(hc).GetUser(ctx, name)
		if err != nil {
			return apiError(err)
		}
		fmt.Fprintf(r.env.Stdout, "User: %s\n", u.User)
		fmt.Fprintf(r.env.Stdout, "Roles: %s\n", strings.Join(u.Roles, " "))
		return nil
	})(c)
}

func (r *runner) roleCommand() cli.Command {
	permFlags := func(verb, read, write, rw string) []cli.Flag {
		return []cli.Flag{
			cli.StringFlag{Name: "path", Value: "", Usage: "Path " + verb + " for the role to access"},
			cli.BoolFlag{Name: "read", Usage: read},
			cli.BoolFlag{Name: "write", Usage: write},
			cli.BoolFlag{Name: "readwrite, rw", Usage: rw},
		}
	}
	return cli.Command{
		Name:  "role",
		Usage: "role add, grant and revoke subcommands",
		Subcommands: []cli.Command{
			{Name: "add", Usage: "add a new role for the etcd cluster", ArgsUsage: "<role> ", Action: r.roleAdd},
			{Name: "get", Usage: "get details for a role", ArgsUsage: "<role>", Action: r.roleGet},
			{Name: "list", Usage: "list all roles", ArgsUsage: " ", Action: r.roleList},
			{Name: "remove", Usage: "remove a role from the etcd cluster", ArgsUsage: "<role>", Action: r.roleRemove},
			{Name: "grant", Usage: "grant path matches to an etcd role", ArgsUsage: "<role>",
				Flags: permFlags("granted", "Grant read-only access", "Grant write-only access", "Grant read-write access"), Action: r.roleGrantRevoke(true)},
			{Name: "revoke", Usage: "revoke path matches for an etcd role", ArgsUsage: "<role>",
				Flags: permFlags("revoked", "Revoke read access", "Revoke write access", "Revoke read-write access"), Action: r.roleGrantRevoke(false)},
		},
	}
}

func (r *runner) roleList(c *cli.Context) error {
	return r.listNames(c, func(ctx context.Context, hc client.Client) ([]string, error) {
		return client.NewAuthRoleAPI(hc).ListRoles(ctx)
	})
}

func (r *runner) roleAdd(c *cli.Context) error {
	name, err := oneName(c, "role name")
	if err != nil {
		return err
	}
	return r.withClient(func(c *cli.Context, hc client.Client) error {
		api := client.NewAuthRoleAPI(hc)
		ctx, cancel := r.totalTimeout(c)
		defer cancel()
		if role, _ := api.GetRole(ctx, name); role != nil {
			return fail(ExitBadArgs, "Role %s already exists", name)
		}
		if err := api.AddRole(ctx, name); err != nil {
			return apiError(err)
		}
		fmt.Fprintf(r.env.Stdout, "Role %s created\n", name)
		return nil
	})(c)
}

func (r *runner) roleRemove(c *cli.Context) error {
	name, err := oneName(c, "role name")
	if err != nil {
		return err
	}
	return r.withClient(func(c *cli.Context, hc client.Client) error {
		ctx, cancel := r.totalTimeout(c)
		defer cancel()
		if err := client.NewAuthRoleAPI(hc).RemoveRole(ctx, name); err != nil {
			return apiError(err)
		}
		fmt.Fprintf(r.env.Stdout, "Role %s removed\n", name)
		return nil
	})(c)
}

// canonicalPath is p with a leading slash, cleaned, keeping a trailing
// slash (etcd's permissions compare canonical paths).
func canonicalPath(p string) string {
	if p == "" {
		return "/"
	}
	if p[0] != '/' {
		p = "/" + p
	}
	cleaned := path.Clean(p)
	if p[len(p)-1] == '/' && cleaned != "/" {
		cleaned += "/"
	}
	return cleaned
}

func (r *runner) roleGrantRevoke(grant bool) cli.ActionFunc {
	return func(c *cli.Context) error {
		p := c.String("path")
		if p == "" {
			return fail(ExitBadArgs, "No path specified; please use `--path`")
		}
		if cp := canonicalPath(p); cp != p {
			return fail(ExitBadArgs, "Not canonical path; please use `--path=%s`", cp)
		}
		read, write, rw := c.Bool("read"), c.Bool("write"), c.Bool("readwrite")
		count := 0
		for _, v := range []bool{read, write, rw} {
			if v {
				count++
			}
		}
		if count != 1 {
			return fail(ExitBadArgs, "Please specify exactly one of --read, --write or --readwrite")
		}
		perm := client.ReadWritePermission
		switch {
		case read:
			perm = client.ReadPermission
		case write:
			perm = client.WritePermission
		}
		name, err := oneName(c, "role name")
		if err != nil {
			return err
		}
		return r.withClient(func(c *cli.Context, hc client.Client) error {
			api := client.NewAuthRoleAPI(hc)
			ctx, cancel := r.totalTimeout(c)
			defer cancel()
			before, err := api.GetRole(ctx, name)
			if err != nil {
				return apiError(err)
			}
			var after *client.Role
			if grant {
				after, err = api.GrantRoleKV(ctx, name, []string{p}, perm)
			} else {
				after, err = api.RevokeRoleKV(ctx, name, []string{p}, perm)
			}
			if err != nil {
				return apiError(err)
			}
			if reflect.DeepEqual(after, before) {
				if grant {
					fmt.Fprint(r.env.Stdout, "Role unchanged; already granted")
				} else {
					fmt.Fprint(r.env.Stdout, "Role unchanged; already revoked")
				}
			}
			fmt.Fprintf(r.env.Stdout, "Role %s updated\n", name)
			return nil
		})(c)
	}
}

func (r *runner) roleGet(c *cli.Context) error {
	name, err := oneName(c, "role name")
	if err != nil {
		return err
	}
	return r.withClient(func(c *cli.Context, hc client.Client) error {
		ctx, cancel := r.totalTimeout(c)
		defer cancel()
		role, err := client.NewAuthRoleAPI(hc).GetRole(ctx, name)
		if err != nil {
			return apiError(err)
		}
		fmt.Fprintf(r.env.Stdout, "Role: %s\n", role.Role)
		fmt.Fprintln(r.env.Stdout, "KV Read:")
		for _, v := range role.Permissions.KV.Read {
			fmt.Fprintf(r.env.Stdout, "\t%s\n", v)
		}
		fmt.Fprintln(r.env.Stdout, "KV Write:")
		for _, v := range role.Permissions.KV.Write {
			fmt.Fprintf(r.env.Stdout, "\t%s\n", v)
		}
		return nil
	})(c)
}

func (r *runner) authCommand() cli.Command {
	return cli.Command{
		Name:  "auth",
		Usage: "overall auth controls",
		Subcommands: []cli.Command{
			{Name: "enable", Usage: "enable auth access controls", ArgsUsage: " ", Action: r.authSwitch(true)},
			{Name: "disable", Usage: "disable auth access controls", ArgsUsage: " ", Action: r.authSwitch(false)},
		},
	}
}

func (r *runner) authSwitch(enable bool) cli.ActionFunc {
	return func(c *cli.Context) error {
		if err := noArgs(c); err != nil {
			return err
		}
		return r.withClient(func(c *cli.Context, hc client.Client) error {
			api := client.NewAuthAPI(hc)
			ctx, cancel := r.totalTimeout(c)
			defer cancel()
			var err error
			if enable {
				err = api.Enable(ctx)
			} else {
				err = api.Disable(ctx)
			}
			if err != nil {
				return apiError(err)
			}
			if enable {
				fmt.Fprintln(r.env.Stdout, "Authentication Enabled")
			} else {
				fmt.Fprintln(r.env.Stdout, "Authentication Disabled")
			}
			return nil
		})(c)
	}
}
