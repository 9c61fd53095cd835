// Package iostreams carries the standard streams and the terminal facts commands need: whether
// stdout/stderr are terminals and whether colour is allowed (NO_COLOR, CLICOLOR_FORCE, --color).
package iostreams

import (
	"bytes"
	"fmt"
	"io"
	"os"

	"golang.org/x/term"
)

// IOStreams are the streams of one command invocation.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	stdinTTY  bool
	stdoutTTY bool
	stderrTTY bool
	color     bool
	getenv    func(string) string
}

// System returns the process's streams with terminal detection.
func System() *IOStreams {
	s := &IOStreams{
		In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr,
		stdinTTY:  term.IsTerminal(int(os.Stdin.Fd())),
		stdoutTTY: term.IsTerminal(int(os.Stdout.Fd())),
		stderrTTY: term.IsTerminal(int(os.Stderr.Fd())),
		getenv:    os.Getenv,
	}
	s.color = s.stdoutTTY
	if err := s.SetColorMode("auto"); err != nil {
		panic(err) // "auto" is always valid
	}
	return s
}

// Test returns streams over buffers, as a non-terminal, with the given environment lookup.
func Test(getenv func(string) string) (*IOStreams, *bytes.Buffer, *bytes.Buffer) {
	out, errOut := &bytes.Buffer{}, &bytes.Buffer{}
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	return &IOStreams{In: &bytes.Buffer{}, Out: out, ErrOut: errOut, getenv: getenv}, out, errOut
}

// SetTTY marks stdout and stderr as terminals (tests).
func (s *IOStreams) SetTTY(tty bool) { s.stdoutTTY, s.stderrTTY = tty, tty }

// IsStdinTTY says whether stdin is a terminal (a command may prompt).
func (s *IOStreams) IsStdinTTY() bool { return s.stdinTTY }

// SetStdinTTY marks stdin as a terminal (tests of prompts).
func (s *IOStreams) SetStdinTTY(tty bool) { s.stdinTTY = tty }

// IsStdoutTTY says whether stdout is a terminal.
func (s *IOStreams) IsStdoutTTY() bool { return s.stdoutTTY }

// IsStderrTTY says whether stderr is a terminal.
func (s *IOStreams) IsStderrTTY() bool { return s.stderrTTY }

// ColorEnabled says whether output may use colour.
func (s *IOStreams) ColorEnabled() bool { return s.color }

// Getenv reads the invocation's environment.
func (s *IOStreams) Getenv(k string) string { return s.getenv(k) }

// SetColorMode applies --color: always, never, or auto (colour on a terminal unless NO_COLOR is
// set; CLICOLOR_FORCE=1 forces it).
func (s *IOStreams) SetColorMode(mode string) error {
	switch mode {
	case "always":
		s.color = true
	case "never":
		s.color = false
	case "auto", "":
		switch {
		case s.getenv("NO_COLOR") != "":
			s.color = false
		case s.getenv("CLICOLOR_FORCE") != "" && s.getenv("CLICOLOR_FORCE") != "0":
			s.color = true
		default:
			s.color = s.stdoutTTY && s.getenv("TERM") != "dumb"
		}
	default:
		return fmt.Errorf("--color must be auto, always or never, not %q", mode)
	}
	return nil
}
