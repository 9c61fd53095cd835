//go:build !unix

package publock

import (
	"errors"
	"os"
)

var errWouldBlock = errors.New("lock held")

func flock(*os.File) error {
	return errors.New("file locks need a unix system: configure a Postgres catalog or an S3 lease")
}

func flockMode(f *os.File, _ bool) error { return flock(f) }
