package testenv

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// testenvPath is this package's import path.
const testenvPath = "cyberimage/shared/testenv"

// testSupport are the repository's test-support packages, named after
// what they help test as the standard library's httptest is. Listed by
// name, not matched by a suffix, so a production package whose name
// happens to end in "test" is still checked; a new helper package fails
// the check below until it is listed here.
var testSupport = map[string]bool{"httpservetest": true, "leaderpasstest": true, "imagetest": true}

// isTestSupport reports whether a directory (or import path) named by its
// last element holds test support: testdata or a listed helper package.
func isTestSupport(name string) bool { return name == "testdata" || testSupport[name] }

// importersOf lists the production Go files under root that import a
// package matching imported, as paths relative to root. Test files and
// test-support packages are free to import anything.
func importersOf(t *testing.T, root string, imported func(path string) bool) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); isTestSupport(name) || name == "node_modules" || (strings.HasPrefix(name, ".") && p != root) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), p, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			if got, _ := strconv.Unquote(imp.Path.Value); imported(got) {
				rel, _ := filepath.Rel(root, p)
				found = append(found, rel)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", root, err)
	}
	return found
}

// No file of the product (shared/ and the services) imports testenv: it
// starts servers, issues credentials and fails tests, and it belongs in
// tests only. Tools (benches, load tests) may use it; they are not shipped.
func TestNoProductionFileImportsTestenv(t *testing.T) {
	root := RepoRoot(t)
	for _, dir := range []string{"shared", "services"} {
		if found := importersOf(t, filepath.Join(root, dir), isTestenv); len(found) > 0 {
			t.Errorf("production files under %s/ import %s: %v", dir, testenvPath, found)
		}
	}
}

// Nor does it import a test-support package of its own (leaderpasstest
// and the like, which may use testenv).
func TestNoProductionFileImportsTestSupport(t *testing.T) {
	root := RepoRoot(t)
	for _, dir := range []string{"shared", "services"} {
		if found := importersOf(t, filepath.Join(root, dir), isOwnTestSupport); len(found) > 0 {
			t.Errorf("production files under %s/ import test-support packages: %v", dir, found)
		}
	}
}

func isTestenv(path string) bool { return path == testenvPath }

// isOwnTestSupport: one of this repository's test-support packages.
func isOwnTestSupport(path string) bool {
	return strings.HasPrefix(path, "cyberimage/") && isTestSupport(path[strings.LastIndex(path, "/")+1:])
}

// The check sees an import wherever it is in a production file's import
// list, and lets test files and testdata have it.
func TestImportersOfFindsProductionImportsOnly(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		"svc/internal/a/a.go":                "package a\n\nimport (\n\t\"fmt\"\n\tenv \"" + testenvPath + "\"\n)\n",
		"svc/internal/a/a_test.go":           "package a\n\nimport \"" + testenvPath + "\"\n",
		"svc/internal/a/testdata/x.go":       "package x\n\nimport \"" + testenvPath + "\"\n",
		"svc/internal/b/b.go":                "package b\n\nimport \"cyberimage/shared/testenvx\"\n",
		"svc/internal/a/leaderpasstest/h.go": "package leaderpasstest\n\nimport \"" + testenvPath + "\"\n",
		"svc/internal/c/c.go":                "package c\n\nimport \"cyberimage/svc/internal/a/leaderpasstest\"\n",
		// A production package whose name merely ends in "test".
		"svc/internal/latest/l.go": "package latest\n\nimport \"" + testenvPath + "\"\n",
	}
	for name, body := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	found := importersOf(t, root, isTestenv)
	want := []string{filepath.Join("svc", "internal", "a", "a.go"), filepath.Join("svc", "internal", "latest", "l.go")}
	if !slices.Equal(found, want) {
		t.Fatalf("found %v, want %v", found, want)
	}
	if found := importersOf(t, root, isOwnTestSupport); len(found) != 1 || found[0] != filepath.Join("svc", "internal", "c", "c.go") {
		t.Fatalf("test-support importers %v, want only svc/internal/c/c.go", found)
	}
}
