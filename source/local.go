package source

import (
	"errors"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"syscall"
)

// fileURLPath accepts file:///abs/path and file://localhost/abs/path, the
// only forms that name a file on this machine.
func fileURLPath(src string) (string, error) {
	u, err := url.Parse(src)
	if err != nil {
		return "", failf(errBadSource, nil, "malformed file URL: %s", urlErrText(err))
	}
	switch {
	case u.Opaque != "":
		return "", failf(errBadSource, nil, "malformed file URL: want file:///absolute/path")
	case u.Host != "" && u.Host != "localhost":
		return "", failf(errBadSource, nil, "file URL names host %s: only local files can be read", u.Host)
	case u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return "", failf(errBadSource, nil, "file URL must not carry userinfo, a query or a fragment")
	case u.Path == "":
		return "", failf(errBadSource, nil, "file URL has no path")
	}
	return u.Path, nil
}

// confine checks, lexically, that p names something inside the root and
// returns it relative to the root. It is the I/O-free half of confinement;
// os.Root enforces the other half (symlinks) when the file is opened.
func (o *Opener) confine(p string) (string, error) {
	if o.root == "" {
		return "", failf(errOutsideRoot, nil, "local files are disabled: MEDIA_ROOT is not set")
	}
	p = filepath.Clean(p)
	if !filepath.IsAbs(p) {
		if !filepath.IsLocal(p) {
			return "", failf(errOutsideRoot, nil, "path leaves MEDIA_ROOT %s", o.root)
		}
		return p, nil
	}
	for _, root := range o.rootAliases {
		if rel, err := filepath.Rel(root, p); err == nil && filepath.IsLocal(rel) {
			return rel, nil
		}
	}
	return "", failf(errOutsideRoot, nil, "path is outside MEDIA_ROOT %s", o.root)
}

func (o *Opener) openLocal(src, rel string, want Hint) (*Media, error) {
	fail := func(err error) (*Media, error) { return nil, newError("open", src, err) }
	f, size, err := o.openLocalFile(rel)
	if err != nil {
		return fail(err)
	}
	head := make([]byte, min(sniffLen, size))
	n, err := f.ReadAt(head, 0)
	if err != nil && err != io.EOF {
		f.Close()
		return fail(err)
	}
	name := want.Name
	if name == "" {
		name = filepath.Base(rel)
	}
	return newMedia(src, name, detectType(want.ContentType, head[:n], ""), size, f, f.Close), nil
}

// openLocalFile opens rel under the root: a regular, non-empty file, read
// only. Errors are causes for newError.
func (o *Opener) openLocalFile(rel string) (*os.File, int64, error) {
	// The root is opened per call rather than held open: an Opener has no
	// Close, and a MEDIA_ROOT remounted under a running worker is then seen.
	root, err := os.OpenRoot(o.root)
	if err != nil {
		return nil, 0, err
	}
	defer root.Close()

	// O_NONBLOCK keeps a FIFO planted in the root from blocking the worker in
	// open(2); regular files ignore the flag.
	f, err := root.OpenFile(rel, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, 0, localOpenError(err, o.root)
	}
	// Stat the descriptor, not the path: the path may be swapped after open.
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, 0, failf(errNotRegular, nil, "not a regular file (%s)", kindOf(fi.Mode()))
	}
	if fi.Size() == 0 {
		f.Close()
		return nil, 0, failf(errEmpty, nil, "file is empty")
	}
	return f, fi.Size(), nil
}

// localOpenError turns what os.Root reports into a classified error. os.Root
// has no exported sentinel for "escapes the root", so its text is matched;
// the symlink tests fail if a Go release changes it.
func localOpenError(err error, root string) error {
	var pe *fs.PathError
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		return failf(errNotFound, nil, "no such file")
	case errors.As(err, &pe) && pe.Err.Error() == "path escapes from parent":
		return failf(errOutsideRoot, nil, "path leaves MEDIA_ROOT %s through a symbolic link (links must be relative and stay inside)", root)
	case errors.Is(err, syscall.ELOOP):
		return failf(errNotFound, err, "too many levels of symbolic links")
	}
	return err
}

func kindOf(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "directory"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeDevice != 0:
		return "device"
	}
	return m.Type().String()
}
