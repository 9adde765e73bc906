// Command loupe is Loupe's single binary: the web server and the
// command-line tools that manage users, projects, imports and exports.
//
//	loupe                      serve on 127.0.0.1:8080 with ./loupe.db (demo data on first start)
//	loupe serve [flags]
//	loupe user add NAME --role admin|member [--password-stdin]
//	loupe user set-password NAME [--password-stdin]
//	loupe user disable|enable NAME
//	loupe project create (--config FILE | --template NAME [--demo-items]) [--slug SLUG]
//	loupe project validate FILE
//	loupe project set-config SLUG --config FILE
//	loupe project add-member SLUG USER --role labeler|reviewer|manager
//	loupe import --project SLUG [--format F] [--dedupe id|hash|none] FILE|DIR|-
//	loupe export --project SLUG [--format F] [--out FILE|DIR] [filters] [--aggregate A] [--split S --seed N] [--snapshot NAME]
//	loupe snapshot list --project SLUG
//	loupe snapshot diff --project SLUG A B
//	loupe generate --project SLUG [--items N] [--annotated N] [--labelers K] [--seed S]
//	loupe audit verify [--project SLUG [--expect-last HASH]]
//	loupe audit export --project SLUG [--out FILE] [--user NAME] [--kind KIND] [--block NAME] [--from DATE] [--to DATE]
//	loupe agreement --project SLUG [--json] [--span-overlap] [--min-iou X]
//	loupe token create USER [--name NAME]
//	loupe model stats --project SLUG
//	loupe backup --out FILE
//	loupe bench [flags]
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/loupehq/loupe"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	env := &Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
	os.Exit(Run(ctx, os.Args[1:], env))
}

// Env is what a command may touch of the outside world, so that tests can
// run commands in-process.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
}

// errUsage marks an error in how the command was called (exit status 2).
var errUsage = errors.New("usage")

// Run runs the command named by args and returns its exit status: 0 for
// success, 1 for a failure, 2 for a usage error.
func Run(ctx context.Context, args []string, env *Env) int {
	err := dispatch(ctx, args, env)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(env.Stderr, "loupe: %s\n", usageMessage(err))
		return 2
	default:
		fmt.Fprintf(env.Stderr, "loupe: %s\n", describe(err))
		return 1
	}
}

const topUsage = `Loupe: human-in-the-loop annotation and feedback.

Usage:
  loupe [serve] [flags]          run the web server (default: 127.0.0.1:8080, ./loupe.db)
  loupe user add NAME --role admin|member [--password-stdin]
  loupe user set-password NAME [--password-stdin]
  loupe user disable NAME        end the user's sessions and refuse sign-in
  loupe user enable NAME
  loupe project create (--config FILE | --template NAME [--demo-items]) [--slug SLUG]
  loupe project validate FILE     check a config: every problem as FILE:LINE:COL: FIELD: MESSAGE
  loupe project set-config SLUG --config FILE
  loupe project add-member SLUG USER --role labeler|reviewer|manager
  loupe import --project SLUG [--format F] [--dedupe id|hash|none] (FILE | DIR | - | --predictions FILE)
  loupe export --project SLUG [--format F] [--out FILE|DIR] [filters] [--aggregate A] [--split S --seed N] [--snapshot NAME]
  loupe snapshot list --project SLUG
  loupe snapshot diff --project SLUG A B
  loupe generate --project SLUG [--items N] [--annotated N] [--labelers K] [--seed S]
  loupe audit verify [--project SLUG [--expect-last HASH]]  check that no event of the history was changed or removed
  loupe audit export --project SLUG [--out FILE] [--user NAME] [--kind KIND] [--block NAME] [--from DATE] [--to DATE]
  loupe agreement --project SLUG [--json] [--span-overlap] [--min-iou X]  how much the labelers agree, per block
  loupe token create USER [--name NAME]
  loupe model stats --project SLUG  how often each model's suggestions were accepted, edited or rejected
  loupe backup --out FILE         a consistent copy of the database, safe while loupe serve runs
  loupe bench [flags]            load-test the HTTP API against a bare baseline

Every command takes --db FILE (default loupe.db). Run "loupe COMMAND --help" for its flags.
`

func dispatch(ctx context.Context, args []string, env *Env) error {
	if len(args) == 0 || len(args[0]) > 0 && args[0][0] == '-' && args[0] != "-h" && args[0] != "--help" && args[0] != "-help" {
		return runServe(ctx, args, env)
	}
	cmd, rest := args[0], args[1:]
	if cmd != "serve" {
		ctx = loupe.WithActor(ctx, cliActor(env))
	}
	switch cmd {
	case "serve":
		return runServe(ctx, rest, env)
	case "user":
		return sub(ctx, "user", rest, env, map[string]command{"add": runUserAdd, "set-password": runUserSetPassword, "disable": runUserDisable, "enable": runUserEnable})
	case "project":
		return sub(ctx, "project", rest, env, map[string]command{"create": runProjectCreate, "validate": runProjectValidate, "set-config": runProjectSetConfig, "add-member": runProjectAddMember})
	case "import":
		return runImport(ctx, rest, env)
	case "export":
		return runExport(ctx, rest, env)
	case "snapshot":
		return runSnapshot(ctx, rest, env)
	case "generate":
		return runGenerate(ctx, rest, env)
	case "audit":
		return sub(ctx, "audit", rest, env, map[string]command{"verify": runAuditVerify, "export": runAuditExport})
	case "agreement":
		return runAgreement(ctx, rest, env)
	case "model":
		return sub(ctx, "model", rest, env, map[string]command{"stats": runModelStats})
	case "token":
		return sub(ctx, "token", rest, env, map[string]command{"create": runTokenCreate})
	case "bench":
		return runBench(ctx, rest, env)
	case "backup":
		return runBackup(ctx, rest, env)
	case "help", "-h", "--help", "-help":
		fmt.Fprint(env.Stdout, topUsage)
		return nil
	}
	return fmt.Errorf("%w: unknown command %q\n\n%s", errUsage, cmd, topUsage)
}

// cliActor is who the history records for changes made on the command
// line: "cli:" and the operating system user.
func cliActor(env *Env) *loupe.User {
	name := env.Getenv("USER")
	if name == "" {
		name = env.Getenv("USERNAME")
	}
	if name == "" {
		name = "unknown"
	}
	return &loupe.User{Name: "cli:" + name}
}

type command func(ctx context.Context, args []string, env *Env) error

func sub(ctx context.Context, group string, args []string, env *Env, cmds map[string]command) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		if len(args) == 0 {
			return fmt.Errorf("%w: %s needs a subcommand\n\n%s", errUsage, group, topUsage)
		}
		fmt.Fprint(env.Stdout, topUsage)
		return nil
	}
	c, ok := cmds[args[0]]
	if !ok {
		return fmt.Errorf("%w: unknown command \"%s %s\"\n\n%s", errUsage, group, args[0], topUsage)
	}
	return c(ctx, args[1:], env)
}

func usageMessage(err error) string {
	msg := err.Error()
	if len(msg) > len(errUsage.Error())+2 && msg[:len(errUsage.Error())] == errUsage.Error() {
		return msg[len(errUsage.Error())+2:]
	}
	return msg
}
