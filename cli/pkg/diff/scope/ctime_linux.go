package scope

import (
	"io/fs"
	"syscall"
	"time"
)

// ctime is a file's status change time, which no one can set back (git compares it too).
func ctime(fi fs.FileInfo) (time.Time, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return time.Time{}, false
	}
	return time.Unix(st.Ctim.Sec, st.Ctim.Nsec), true
}
