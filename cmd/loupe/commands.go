package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/annotate"
	"github.com/loupehq/loupe/blocks"
	"github.com/loupehq/loupe/fixtures"
	"github.com/loupehq/loupe/storage"
)

var errHelp = flag.ErrHelp

// newFlags returns a flag set for a command, printing its help to stdout.
func newFlags(name, usage string, env *Env) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.Stdout)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: loupe %s\n\nFlags:\n", usage)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags that may come before, between or after the
// positional arguments, and checks the count of positional arguments.
func parse(fs *flag.FlagSet, args []string, want int) ([]string, error) {
	var pos []string
	out := fs.Output()
	for {
		// Parse quietly: errors are reported once, by the caller.
		fs.SetOutput(io.Discard)
		err := fs.Parse(args)
		fs.SetOutput(out)
		if errors.Is(err, flag.ErrHelp) {
			fs.Usage()
			return nil, errHelp
		} else if err != nil {
			return nil, fmt.Errorf("%w: %v (see loupe %s --help)", errUsage, err, fs.Name())
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	if want >= 0 && len(pos) != want {
		return nil, fmt.Errorf("%w: loupe %s takes %d argument(s), got %d (see loupe %s --help)", errUsage, fs.Name(), want, len(pos), fs.Name())
	}
	return pos, nil
}

func dbFlag(fs *flag.FlagSet) *string {
	return fs.String("db", "loupe.db", "the SQLite database `file`")
}

func openDB(path string) (*storage.DB, error) {
	return storage.Open(path, storage.Options{})
}

// openProject opens the database and finds the project; the caller closes
// the database.
func openProject(ctx context.Context, path, slug string) (*storage.DB, *annotate.Project, error) {
	d, err := openDB(path)
	if err != nil {
		return nil, nil, err
	}
	p, err := d.ProjectBySlug(ctx, slug)
	if err != nil {
		d.Close()
		return nil, nil, err
	}
	return d, p, nil
}

// openProjectFlag is openProject for a command's --project flag, which
// must be given.
func openProjectFlag(ctx context.Context, path, slug string) (*storage.DB, *annotate.Project, error) {
	if slug == "" {
		return nil, nil, fmt.Errorf("%w: --project is required", errUsage)
	}
	return openProject(ctx, path, slug)
}

// inFile prefixes the message of a Loupe error with the file it is about,
// keeping its code.
func inFile(path string, err error) error {
	var le *loupe.Error
	if errors.As(err, &le) {
		return &loupe.Error{Code: le.Code, Field: le.Field, Message: path + ": " + le.Message}
	}
	return fmt.Errorf("%s: %w", path, err)
}

// describe renders an error for the terminal: the message of a Loupe error,
// or the whole chain of any other.
func describe(err error) string {
	var le *loupe.Error
	if errors.As(err, &le) {
		return le.Message
	}
	return err.Error()
}

func runUserAdd(ctx context.Context, args []string, env *Env) error {
	fs := newFlags("user add", "user add NAME --role admin|member [--password-stdin] [--db FILE]", env)
	db := dbFlag(fs)
	role := fs.String("role", "", "global role: admin or member (required)")
	stdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input; otherwise one is generated and printed")
	pos, err := parse(fs, args, 1)
	if err != nil {
		return err
	}
	if *role == "" {
		return fmt.Errorf("%w: --role is required: admin or member", errUsage)
	}
	if err := loupe.ValidateUserName(pos[0]); err != nil {
		return err
	}
	if err := loupe.ValidateRole(*role); err != nil {
		return err
	}
	password, hash, generated, err := newPassword(env.Stdin, *stdin)
	if err != nil {
		return err
	}
	d, err := openDB(*db)
	if err != nil {
		return err
	}
	defer d.Close()
	if _, err := d.CreateUser(ctx, pos[0], *role, hash); err != nil {
		return err
	}
	if generated {
		fmt.Fprintf(env.Stdout, "Added %s (%s). Password (shown once): %s\n", pos[0], *role, password)
	} else {
		fmt.Fprintf(env.Stdout, "Added %s (%s).\n", pos[0], *role)
	}
	return nil
}

// newPassword returns the first line of stdin with --password-stdin, or a
// generated password (and generated = true) otherwise, with its hash.
func newPassword(stdin io.Reader, fromStdin bool) (password, hash string, generated bool, err error) {
	if fromStdin {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", "", false, fmt.Errorf("read password: %w", err)
		}
		password = strings.TrimRight(line, "\r\n")
	} else {
		password, generated = loupe.GeneratePassword(), true
	}
	hash, err = loupe.HashPassword(password)
	return password, hash, generated, err
}

// readConfig reads and parses a project config file. Its includes are read
// from the config's folder, then from the shared block library. It returns
// the source to store: includes expanded, so that the stored config stands
// alone.
func readConfig(path string) (string, *blocks.Config, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return "", nil, err
	}
	cfg, err := blocks.Parse(blocks.Source{Name: path, Data: src, Include: fileIncluder(path)})
	if err != nil {
		return "", nil, err
	}
	return string(cfg.Source()), cfg, nil
}

// fileIncluder resolves include names against the folder of the config,
// falling back to the shared block library.
func fileIncluder(configPath string) func(string) ([]byte, error) {
	dir := filepath.Dir(configPath)
	return func(name string) ([]byte, error) {
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
		if err == nil || !errors.Is(err, fs.ErrNotExist) {
			return b, err
		}
		if lib, lerr := fixtures.Include(name); lerr == nil {
			return lib, nil
		}
		return nil, fmt.Errorf("no file %s next to the config, nor in the block library", filepath.Join(dir, name))
	}
}

func runProjectValidate(ctx context.Context, args []string, env *Env) error {
	fs := newFlags("project validate", "project validate FILE", env)
	pos, err := parse(fs, args, 1)
	if err != nil {
		return err
	}
	_, cfg, err := readConfig(pos[0])
	if err != nil {
		return err
	}
	in := cfg.Interface()
	fmt.Fprintf(env.Stdout, "%s: ok: %q, %d blocks with values (%s), reads fields %s\n", pos[0], cfg.Title,
		len(in.Valuers()), strings.Join(valuerNames(in), ", "), strings.Join(in.Fields(), ", "))
	return nil
}

func valuerNames(in *blocks.Interface) []string {
	var out []string
	for _, v := range in.Valuers() {
		out = append(out, v.Common().Name)
	}
	return out
}

func runUserSetPassword(ctx context.Context, args []string, env *Env) error {
	fs := newFlags("user set-password", "user set-password NAME [--password-stdin] [--db FILE]", env)
	db := dbFlag(fs)
	stdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input; otherwise one is generated and printed")
	pos, err := parse(fs, args, 1)
	if err != nil {
		return err
	}
	password, hash, generated, err := newPassword(env.Stdin, *stdin)
	if err != nil {
		return err
	}
	d, err := openDB(*db)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.SetPassword(ctx, pos[0], hash); err != nil {
		return err
	}
	if generated {
		fmt.Fprintf(env.Stdout, "New password for %s (shown once): %s\nTheir sessions have ended.\n", pos[0], password)
	} else {
		fmt.Fprintf(env.Stdout, "Password of %s changed; their sessions have ended.\n", pos[0])
	}
	return nil
}

func runUserDisable(ctx context.Context, args []string, env *Env) error {
	return setUserDisabled(ctx, args, env, true)
}

func runUserEnable(ctx context.Context, args []string, env *Env) error {
	return setUserDisabled(ctx, args, env, false)
}

func setUserDisabled(ctx context.Context, args []string, env *Env, disabled bool) error {
	verb := map[bool]string{true: "disable", false: "enable"}[disabled]
	fs := newFlags("user "+verb, "user "+verb+" NAME [--db FILE]", env)
	db := dbFlag(fs)
	pos, err := parse(fs, args, 1)
	if err != nil {
		return err
	}
	d, err := openDB(*db)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.SetUserDisabled(ctx, pos[0], disabled); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "%s is %sd.\n", pos[0], verb)
	return nil
}

func runProjectCreate(ctx context.Context, args []string, env *Env) error {
	fs := newFlags("project create", "project create (--config FILE | --template NAME [--demo-items]) [--slug SLUG] [--media-root DIR] [--db FILE]", env)
	db := dbFlag(fs)
	configPath := fs.String("config", "", "the project config `file`, YAML or JSON")
	template := fs.String("template", "", "start from a ready-made template: "+strings.Join(fixtures.TemplateNames(), ", "))
	demoItems := fs.Bool("demo-items", false, "with --template: also import the template's demo items (and media)")
	mediaRoot := fs.String("media-root", "", "with --demo-items: the media folder (default: DB-media beside the database)")
	slug := fs.String("slug", "", "the project's slug; derived from the title (or the template's name) when empty")
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	switch {
	case *configPath == "" && *template == "":
		return fmt.Errorf("%w: --config or --template is required (templates: %s)", errUsage, strings.Join(fixtures.TemplateNames(), ", "))
	case *configPath != "" && *template != "":
		return fmt.Errorf("%w: give --config or --template, not both", errUsage)
	case *demoItems && *template == "":
		return fmt.Errorf("%w: --demo-items goes with --template", errUsage)
	}
	d, err := openDB(*db)
	if err != nil {
		return err
	}
	defer d.Close()
	if *template != "" {
		t, err := fixtures.Template(*template)
		if err != nil {
			return err
		}
		if *slug == "" {
			*slug = t.Slug
		}
		if *mediaRoot == "" {
			*mediaRoot = strings.TrimSuffix(*db, filepath.Ext(*db)) + "-media"
		}
		if err := createFromFixture(ctx, d, t, *slug, nil, *mediaRoot, *demoItems); err != nil {
			return err
		}
		fmt.Fprintln(env.Stdout, *slug)
		return nil
	}
	src, cfg, err := readConfig(*configPath)
	if err != nil {
		return err
	}
	if *slug == "" {
		*slug = annotate.Slugify(cfg.Title)
	}
	p, err := d.CreateProject(ctx, *slug, src, cfg, nil)
	if err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout, p.Slug)
	return nil
}

func runProjectSetConfig(ctx context.Context, args []string, env *Env) error {
	fs := newFlags("project set-config", "project set-config SLUG --config FILE [--db FILE]", env)
	db := dbFlag(fs)
	configPath := fs.String("config", "", "the new config `file`, YAML or JSON (required)")
	pos, err := parse(fs, args, 1)
	if err != nil {
		return err
	}
	if *configPath == "" {
		return fmt.Errorf("%w: --config is required", errUsage)
	}
	src, cfg, err := readConfig(*configPath)
	if err != nil {
		return err
	}
	d, p, err := openProject(ctx, *db, pos[0])
	if err != nil {
		return err
	}
	defer d.Close()
	v, err := d.UpdateConfig(ctx, p.ID, src, cfg, nil)
	if err != nil {
		return inFile(*configPath, err)
	}
	fmt.Fprintf(env.Stdout, "%s now uses config version %d.\n", p.Slug, v)
	return nil
}

func runProjectAddMember(ctx context.Context, args []string, env *Env) error {
	fs := newFlags("project add-member", "project add-member SLUG USER --role labeler|reviewer|manager [--db FILE]", env)
	db := dbFlag(fs)
	role := fs.String("role", "", "project role: labeler, reviewer or manager (required)")
	pos, err := parse(fs, args, 2)
	if err != nil {
		return err
	}
	if *role == "" {
		return fmt.Errorf("%w: --role is required: labeler, reviewer or manager", errUsage)
	}
	d, p, err := openProject(ctx, *db, pos[0])
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.SetMember(ctx, p.ID, pos[1], *role); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "%s is a %s of %s.\n", pos[1], *role, p.Slug)
	return nil
}

// writeExport writes an export to standard output, or to the file out,
// whole or not at all, saying on stderr how many things (items, events)
// it holds.
func writeExport(env *Env, out, things string, write func(io.Writer) (int, error)) (int, error) {
	if out == "" {
		return write(env.Stdout)
	}
	n, err := writeFileAtomic(out, write)
	if err != nil {
		return n, err
	}
	fmt.Fprintf(env.Stderr, "Exported %d %s to %s.\n", n, things, out)
	return n, nil
}

// writeFileAtomic writes a file through a temporary file in the same
// directory, synced and then renamed, so that a failed or interrupted
// export never leaves a partial file under the final name.
func writeFileAtomic(path string, write func(io.Writer) (int, error)) (int, error) {
	dir := "."
	if i := strings.LastIndexAny(path, `/\`); i >= 0 {
		dir = path[:i+1]
	}
	f, err := os.CreateTemp(dir, ".loupe-export-*")
	if err != nil {
		return 0, err
	}
	defer os.Remove(f.Name())
	n, err := write(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return n, fmt.Errorf("export to %s failed, nothing written: %w", path, err)
	}
	return n, nil
}

func runTokenCreate(ctx context.Context, args []string, env *Env) error {
	fs := newFlags("token create", "token create USER [--name NAME] [--db FILE]", env)
	db := dbFlag(fs)
	name := fs.String("name", "", "a note saying what the token is for")
	pos, err := parse(fs, args, 1)
	if err != nil {
		return err
	}
	d, err := openDB(*db)
	if err != nil {
		return err
	}
	defer d.Close()
	token, err := d.CreateToken(ctx, pos[0], *name)
	if err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout, token)
	return nil
}

func runModelStats(ctx context.Context, args []string, env *Env) error {
	fs := newFlags("model stats", "model stats --project SLUG [--db FILE]", env)
	db := dbFlag(fs)
	slug := fs.String("project", "", "the project's `slug` (required)")
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	d, p, err := openProjectFlag(ctx, *db, *slug)
	if err != nil {
		return err
	}
	defer d.Close()
	outs, err := d.ShownOutcomes(ctx, p.ID)
	if err != nil {
		return err
	}
	qs := annotate.SummariseQuality(outs)
	if len(qs) == 0 {
		fmt.Fprintf(env.Stdout, "No suggestion of %s has been shown to a labeler yet.\n", p.Slug)
		return nil
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "model\tversion\tshown\taccepted\tedited\trejected\taccept rate\tjudged\taccuracy\tregions kept\tdropped\tfirst\tlast\t")
	for _, q := range qs {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%.1f%%\t%d\t%.1f%%\t%d\t%d\t%s\t%s\t\n", q.Model, q.Version, q.Shown, q.Accepted, q.Edited,
			q.Rejected, 100*q.AcceptRate(), q.Judged, 100*q.Accuracy(), q.RegionsKept, q.RegionsDropped,
			q.First.UTC().Format("2006-01-02"), q.Last.UTC().Format("2006-01-02"))
	}
	return tw.Flush()
}
