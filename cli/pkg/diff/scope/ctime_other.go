//go:build !linux

package scope

import (
	"io/fs"
	"time"
)

// ctime is not read here: without it the index is not trusted, and every file is hashed.
func ctime(fs.FileInfo) (time.Time, bool) { return time.Time{}, false }
