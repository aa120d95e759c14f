package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/term"
)

// cmdHashPassword reads a password and prints its bcrypt hash, for
// desk.accounts[].password_hash. On a terminal it asks twice without echo;
// otherwise it reads the first line of standard input.
func cmdHashPassword(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("hash-password", "peakend hash-password [--cost N] < PASSWORD\n\n"+
		"Reads a password (asked twice without echo on a terminal; else the first line of standard input)\n"+
		"and prints its bcrypt hash for desk.accounts[].password_hash in the configuration.", stdout, stderr)
	cost := fs.Int("cost", bcrypt.DefaultCost, fmt.Sprintf("bcrypt cost, %d..%d: each step doubles the time a sign-in (and a guess) takes", bcrypt.MinCost, bcrypt.MaxCost))
	if err := parse(fs, args); err != nil {
		return err
	}
	if *cost < bcrypt.MinCost || *cost > bcrypt.MaxCost {
		return usagef("--cost must be between %d and %d (got %d)", bcrypt.MinCost, bcrypt.MaxCost, *cost)
	}
	var password []byte
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		var err error
		if password, err = askTwice(int(f.Fd()), stderr); err != nil {
			return err
		}
	} else {
		line, err := bufio.NewReader(stdin).ReadBytes('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("hash-password: read standard input: %w", err)
		}
		password = bytes.TrimRight(line, "\r\n")
	}
	switch {
	case len(password) == 0:
		return usagef("hash-password: no password given (type it, or pipe it in on one line)")
	case len(password) > 72:
		return usagef("hash-password: the password is %d bytes; bcrypt uses at most 72", len(password))
	}
	h, err := bcrypt.GenerateFromPassword(password, *cost)
	if err != nil {
		return fmt.Errorf("hash-password: %w", err)
	}
	_, err = fmt.Fprintf(stdout, "%s\n", h)
	return err
}

func askTwice(fd int, prompt io.Writer) ([]byte, error) {
	fmt.Fprint(prompt, "Password: ")
	p, err := term.ReadPassword(fd)
	fmt.Fprintln(prompt)
	if err != nil {
		return nil, fmt.Errorf("hash-password: read the password: %w", err)
	}
	fmt.Fprint(prompt, "Again: ")
	again, err := term.ReadPassword(fd)
	fmt.Fprintln(prompt)
	if err != nil {
		return nil, fmt.Errorf("hash-password: read the password: %w", err)
	}
	if !bytes.Equal(p, again) {
		return nil, usagef("hash-password: the two passwords differ")
	}
	return p, nil
}
