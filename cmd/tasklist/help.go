package main

import (
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
	"text/tabwriter"

	"github.com/tasklist/tasklist/internal/config"
)

// commands are the words tasklist takes as its argument, as help shows them.
var commands = []struct{ name, does string }{
	{"serve", "migrate the database, then serve (the default)"},
	{"migrate", "apply the database migrations and exit"},
	{"version", "print the module version and VCS revision"},
	{"help", "print this help (also -h, --help)"},
}

var errUsage = errors.New("usage: tasklist [serve|migrate|version|help]")

// command reads the command from args. It answers help and version itself,
// on out, and then returns done.
func command(args []string, out io.Writer) (cmd string, done bool, err error) {
	cmd = "serve"
	if len(args) > 0 {
		cmd = args[0]
	}
	switch {
	case len(args) > 1:
		return "", true, errUsage
	case cmd == "help" || cmd == "-h" || cmd == "-help" || cmd == "--help":
		return cmd, true, writeHelp(out)
	case cmd == "version" || cmd == "--version":
		info, _ := debug.ReadBuildInfo()
		return cmd, true, writeVersion(out, info)
	case cmd != "serve" && cmd != "migrate":
		return "", true, fmt.Errorf("unknown command %q; %w", cmd, errUsage)
	}
	return cmd, false, nil
}

// writeHelp prints the commands and every environment variable with its
// default and meaning, from config.Vars.
func writeHelp(out io.Writer) error {
	var b strings.Builder
	b.WriteString("tasklist serves a task list from an SQL database, cached with memcache.\n\nUsage: tasklist [command]\n\n")
	tw := tabwriter.NewWriter(&b, 0, 8, 2, ' ', 0)
	for _, c := range commands {
		fmt.Fprintf(tw, "  %s\t%s\n", c.name, c.does)
	}
	tw.Flush()
	b.WriteString("\nConfiguration comes from the environment (blank is unset):\n\n")
	for _, v := range config.Vars() {
		def := "unset"
		if v.Default != "" {
			def = "default " + v.Default
		}
		fmt.Fprintf(&b, "  %s (%s)\n      %s\n", v.Name, def, strings.ReplaceAll(v.Meaning, "`", ""))
	}
	_, err := io.WriteString(out, b.String())
	return err
}

// writeVersion prints the module version, the VCS revision the binary was
// built from and the Go version, from the build information (nil: none).
// go build stamps the revision in a git checkout, unless -buildvcs=false;
// it does not in a git worktree.
func writeVersion(out io.Writer, info *debug.BuildInfo) error {
	if info == nil {
		_, err := io.WriteString(out, "tasklist: no build information in this binary\n")
		return err
	}
	vcs := map[string]string{}
	for _, s := range info.Settings {
		vcs[s.Key] = s.Value
	}
	revision := "unknown (built without VCS information)"
	if r := vcs["vcs.revision"]; r != "" {
		revision = r
		if t := vcs["vcs.time"]; t != "" {
			revision += " (" + t + ")"
		}
		if vcs["vcs.modified"] == "true" {
			revision += ", with uncommitted changes"
		}
	}
	_, err := fmt.Fprintf(out, "tasklist %s\nmodule %s\nrevision %s\nbuilt with %s\n",
		info.Main.Version, info.Main.Path, revision, info.GoVersion)
	return err
}

// reportError writes err for the operator, one problem a line, each line
// starting with the program's name.
func reportError(w io.Writer, err error) {
	for line := range strings.SplitSeq(err.Error(), "\n") {
		fmt.Fprintln(w, "tasklist:", line)
	}
}
