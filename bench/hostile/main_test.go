package main

import (
	"strings"
	"testing"
	"time"
)

func TestParseFlags(t *testing.T) {
	o, err := parseFlags(nil)
	if err != nil {
		t.Fatal(err)
	}
	if o.sse != 2000 || o.handshakes != 200 || o.handshakeWindow != 2*time.Second || o.slow != 100 || o.queries != 3 {
		t.Errorf("defaults are not the outside test's load cases: %+v", o)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-sse", "-1"}, "-sse"},
		{[]string{"-sse", "100000"}, "-sse"},
		{[]string{"-handshakes", "5000"}, "-handshakes"},
		{[]string{"-handshake-window", "0s"}, "-handshake-window"},
		{[]string{"-slow", "5000"}, "-slow"},
		{[]string{"-queries", "100"}, "-queries"},
		{[]string{"-duration", "1h"}, "-duration"},
		{[]string{"-revokes", "0"}, "-revokes"},
		{[]string{"extra"}, "unexpected argument"},
	} {
		if _, err := parseFlags(tc.args); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parseFlags(%q) = %v, want an error naming %s", tc.args, err, tc.want)
		}
	}
}
