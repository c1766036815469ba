package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// goneBottle is the state of a bottle copied in with --cwd whose
// containers are gone and that saved nothing.
func goneBottle(t *testing.T, slug string) string {
	home := t.TempDir()
	dir := filepath.Join(home, ".bot-bottle/state", slug)
	writeFile(t, filepath.Join(dir, "metadata.json"), `{"slug":"`+slug+`","agent":"shell","bottles":["default"]}`)
	writeFile(t, filepath.Join(dir, "workspace/base.json"), `{"source":"/src","git":true,"tree":"4b825dc642cb6eb9a060e54bf8d69288fbee4904","files":0,"bytes":0}`)
	return home
}

// The error of diff --stat names the command once, not "diff of X: diff of X".
func TestDiffStatErrorPrefixOnce(t *testing.T) {
	slug := "fhcli-gone1"
	home := goneBottle(t, slug)
	_, errOut, code := execCLI(t, home, home, nil, "diff", slug, "--stat")
	if code == 0 || strings.Count(errOut, "diff of "+slug) != 1 {
		t.Errorf("code=%d stderr=%q: want one \"diff of %s\"", code, errOut, slug)
	}
}

// export SLUG ./out with ./out missing makes the directory for
// out/SLUG.bundle, never a file named out; a path that cannot be made is
// reported as the user wrote it, not as a temp file.
func TestExportDestIsADirectory(t *testing.T) {
	slug := "fhcli-gone2"
	home := goneBottle(t, slug)
	_, errOut, _ := execCLI(t, home, home, nil, "export", slug, "out")
	if st, err := os.Stat(filepath.Join(home, "out")); err != nil || !st.IsDir() {
		t.Errorf("export %s out: ./out is not a directory (%v); stderr=%q", slug, err, errOut)
	}
	writeFile(t, filepath.Join(home, "afile"), "x")
	_, errOut, code := execCLI(t, home, home, nil, "export", slug, "afile/sub")
	if code == 0 || !strings.Contains(errOut, filepath.Join(home, "afile/sub")) || strings.Contains(errOut, ".tmp") {
		t.Errorf("code=%d stderr=%q: want the user's path afile/sub named", code, errOut)
	}
}
