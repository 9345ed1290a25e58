//go:build !linux

package bbolt_test

import "errors"

func rlimitChild(string) error { return errors.New("linux only") }
