package kv_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/polykv/polykv/kv"
)

// netDriver is a networked driver that opens nothing: enough for the
// configuration rules of networked backends.
type netDriver struct{}

func (netDriver) Open(context.Context, string, *kv.Config) (kv.Engine, error) {
	return nil, errors.New("netDriver: no directory")
}
func (netDriver) Guarantees() kv.Guarantees { return kv.Guarantees{Persistent: true} }
func (netDriver) OpenNetwork(context.Context, *kv.Config) (kv.NetworkEngine, error) {
	return nil, errors.New("netDriver: not connected")
}

func init() { kv.Register("testnet", netDriver{}) }

const secret = "s3cr:t@pw"

func TestParseDSNNetwork(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want kv.Config
		errs []string
	}{
		{in: "testnet://user:s3cr%3At%40pw@host1:2379,host2:2379/some/prefix?opt.dial_timeout=5s",
			want: kv.Config{Backend: "testnet", Path: "/some/prefix", Endpoints: []string{"host1:2379", "host2:2379"},
				Username: "user", Password: secret, Options: map[string]string{"dial_timeout": "5s"}}},
		{in: "testnet://h:1/p", want: kv.Config{Backend: "testnet", Path: "/p", Endpoints: []string{"h:1"}}},
		{in: "testnet://[::1]:2379,10.0.0.1:2379/p%20q",
			want: kv.Config{Backend: "testnet", Path: "/p q", Endpoints: []string{"[::1]:2379", "10.0.0.1:2379"}}},
		{in: "testnet://bob@h:1/p", want: kv.Config{Backend: "testnet", Path: "/p", Endpoints: []string{"h:1"}, Username: "bob"}},

		{in: "testnet://h:1", errs: []string{"path", "key prefix"}},
		{in: "testnet:///p", errs: []string{"endpoints", "at least one"}},
		{in: "testnet://h:1,,h:2/p", errs: []string{"empty host"}},
		{in: "testnet://:pw@h:1/p", errs: []string{"password", "without a username"}},
		{in: "pebble://h:1/p", errs: []string{`host "h:1"`, "pebble:///absolute/path"}},
		{in: "pebble://u:" + "hunter2" + "@h:1/p", errs: []string{`host "h:1"`}},
		{in: "nosuchnet://u:hunter2@h:1/p", errs: []string{"not linked in", "networked backend"}},
		{in: "testnet://u:hunter2@h:1/p?bad=1", errs: []string{"unknown query key"}},
		{in: "testnet://u:hunter2@h:1/p#frag", errs: []string{"fragment"}},
		{in: "testnet://u:hunter2%zz@h:1/p", errs: []string{"password", "percent-encoding"}},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := kv.ParseDSN(tc.in)
			if tc.errs != nil {
				if !errors.Is(err, kv.ErrInvalidConfig) {
					t.Fatalf("ParseDSN(%q) = %+v, %v; want ErrInvalidConfig", tc.in, got, err)
				}
				for _, s := range tc.errs {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not mention %q", err, s)
					}
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Errorf("error %q shows the password", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseDSN(%q): %v", tc.in, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("ParseDSN(%q)\n got %#v\nwant %#v", tc.in, got, tc.want)
			}
			back, err := kv.ParseDSN(got.DSN())
			if err != nil || !reflect.DeepEqual(back, got) {
				t.Errorf("ParseDSN(DSN() = %q) = %#v, %v; want %#v", got.DSN(), back, err, got)
			}
		})
	}
}

// TestPasswordNeverShown checks that String, errors of Validate and Open,
// and Info never show the password, while DSN round-trips it.
func TestPasswordNeverShown(t *testing.T) {
	c := kv.Config{Backend: "testnet", Path: "/p", Endpoints: []string{"h:1"}, Username: "u", Password: secret}
	if s := c.String(); strings.Contains(s, "s3cr") || !strings.Contains(s, "u:xxxxx@h:1") {
		t.Errorf("String() = %q: want the password redacted as xxxxx", s)
	}
	if d := c.DSN(); !strings.Contains(d, "s3cr") {
		t.Errorf("DSN() = %q: want the password (percent-encoded)", d)
	}
	_, err := kv.Open(t.Context(), c)
	if err == nil || strings.Contains(err.Error(), "s3cr") {
		t.Errorf("Open error %v: want an error without the password", err)
	}
	bad := c
	bad.Options = map[string]string{"": "x"}
	if err := bad.Validate(); err == nil || strings.Contains(err.Error(), "s3cr") {
		t.Errorf("Validate error %v: want an error without the password", err)
	}
	if got := kv.RedactDSN("testnet://u:" + secret + "@h:1/p"); strings.Contains(got, "s3cr") || got != "testnet://u:xxxxx@h:1/p" {
		t.Errorf("RedactDSN = %q", got)
	}
	for _, in := range []string{"pebble:///d", "memory:", "testnet://h:1/p", "testnet://u@h:1/p", "testnet://h:1,h:2/jobs/a%40b", "pebble:///a@b:c"} {
		if got := kv.RedactDSN(in); got != in {
			t.Errorf("RedactDSN(%q) = %q, want it unchanged", in, got)
		}
	}
	// A password with an unencoded '/', '?' or '#' ends the authority
	// early: it was shown whole in ParseDSN's error, and with '/' the DSN
	// parsed, its tail becoming the key prefix sent to the cluster.
	for _, sep := range []string{"/", "?", "#"} {
		in := "testnet://u:s3cr" + sep + "et@h:1/p"
		got := kv.RedactDSN(in)
		_, err := kv.ParseDSN(in)
		if strings.Contains(got, "s3cr") || got != "testnet://u:xxxxx@h:1/p" {
			t.Errorf("RedactDSN(%q) = %q", in, got)
		}
		if !errors.Is(err, kv.ErrInvalidConfig) || strings.Contains(err.Error(), "s3cr") || !strings.Contains(err.Error(), "percent-encode") {
			t.Errorf("ParseDSN(%q) = %v, want ErrInvalidConfig without the password, saying to percent-encode", in, err)
		}
	}
}

// TestStringHidesEndpointCredentials: credentials written into an
// endpoint (user:password@host:port, where host:port belongs) are refused
// by Validate without being printed back, and String, "safe for messages
// and logs", must not print them either: ParseConfigJSON and
// ParseConfigYAML return such a Config beside their error, and a caller
// logs it as %s (as this package's own tests do).
func TestStringHidesEndpointCredentials(t *testing.T) {
	c := kv.Config{Backend: "testnet", Path: "/p", Endpoints: []string{"h:1", "u:" + secret + "@h:2"}}
	if s := c.String(); strings.Contains(s, "s3cr") || !strings.Contains(s, "h:1,") || !strings.Contains(s, "@h:2/p") {
		t.Errorf("String() = %q: want the endpoints without the credentials", s)
	}
	if d := c.DSN(); !strings.Contains(d, "s3cr") {
		t.Errorf("DSN() = %q: want the endpoints as given", d)
	}
	j, err := kv.ParseConfigJSON([]byte(`{"backend":"testnet","path":"/p","endpoints":["u:` + secret + `@h:1"]}`))
	if !errors.Is(err, kv.ErrInvalidConfig) {
		t.Fatalf("ParseConfigJSON = %v, want ErrInvalidConfig", err)
	}
	if s := fmt.Sprintf("%s: %v", j, err); strings.Contains(s, "s3cr") {
		t.Errorf("ParseConfigJSON's Config and error show the password: %s", s)
	}
}

// TestDSNStrayAt: an '@' that does not end the user information
// (scheme://user:password@hosts) after a ':' is refused, and neither the
// error nor RedactDSN shows what came before it. A password starting
// with digits and holding an unencoded '/' ("user:1234/secret@host")
// read as the endpoint "user:1234" and the key prefix "/secret@host...":
// ParseDSN accepted it, and String and Open's error printed the password.
func TestDSNStrayAt(t *testing.T) {
	for _, in := range []string{
		"testnet://user:1234/secret@127.0.0.1:2379/jobs",
		"testnet://user:1234/secret@127.0.0.1:2379/jobs?opt.bogus=1",
		"testnet://user:1234/secret@127.0.0.1:2379/jobs?x=%zz",
		"testnet://user:1234?secret@127.0.0.1:2379/jobs",
		"testnet://user:1234#secret@127.0.0.1:2379/jobs",
		"testnet://user:12@34/secret@127.0.0.1:2379/jobs", // '@' and '/' in the password
		"testnet:user:1234secret@127.0.0.1:2379/jobs",     // no "//"
		"testnet//user:1234secret@127.0.0.1:2379/jobs",    // no scheme
		"user:1234secret@127.0.0.1:2379/jobs",             // no scheme: read as backend "user", the password in its path
		"user:1234secret@127.0.0.1",
		"testnet://127.0.0.1:2379/jobs/a@b", // an '@' in the path
		"testnet://u:pw@127.0.0.1:2379/jobs?opt.tls_ca=/a@b",
	} {
		cfg, err := kv.ParseDSN(in)
		if !errors.Is(err, kv.ErrInvalidConfig) || !strings.Contains(err.Error(), "percent-encode") || !strings.Contains(err.Error(), "%40") {
			t.Errorf("ParseDSN(%q) = %s, %v; want ErrInvalidConfig saying to percent-encode ('@' as %%40)", in, cfg, err)
		}
		for _, shown := range []string{fmt.Sprint(err), cfg.String(), kv.RedactDSN(in)} {
			if strings.Contains(shown, "secret") || strings.Contains(shown, "1234") || strings.Contains(shown, ":pw") {
				t.Errorf("DSN %q: %q shows the password", in, shown)
			}
		}
	}
	// Percent-encoded, the same characters read back.
	got, err := kv.ParseDSN("testnet://user:1234%2Fsecret%40x@127.0.0.1:2379/jobs/a%40b")
	want := kv.Config{Backend: "testnet", Path: "/jobs/a@b", Endpoints: []string{"127.0.0.1:2379"}, Username: "user", Password: "1234/secret@x"}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("ParseDSN of the percent-encoded DSN = %#v, %v; want %#v", got, err, want)
	}
	c := kv.Config{Backend: "testnet", Path: "/x:y@z", Endpoints: []string{"h:1"}, Username: "u@v", Password: "12/34?#@:x"}
	if back, err := kv.ParseDSN(c.DSN()); err != nil || !reflect.DeepEqual(back, c) {
		t.Errorf("ParseDSN(DSN() = %q) = %#v, %v; want %#v", c.DSN(), back, err, c)
	}
}

func TestConfigNetworkFields(t *testing.T) {
	want := kv.Config{Backend: "testnet", Path: "/jobs/1", Endpoints: []string{"a:1", "b:2"}, Username: "u", Password: "p"}
	j, err := kv.ParseConfigJSON([]byte(`{"backend":"testnet","path":"/jobs/1","endpoints":["a:1","b:2"],"username":"u","password":"p"}`))
	if err != nil || !reflect.DeepEqual(j, want) {
		t.Errorf("ParseConfigJSON = %#v, %v; want %#v", j, err, want)
	}
	y, err := kv.ParseConfigYAML([]byte("backend: testnet\npath: /jobs/1\nendpoints: [a:1, b:2]\nusername: u\npassword: p\n"))
	if err != nil || !reflect.DeepEqual(y, want) {
		t.Errorf("ParseConfigYAML = %#v, %v; want %#v", y, err, want)
	}
	for _, tc := range []struct {
		cfg  kv.Config
		errs []string
	}{
		{kv.Config{Backend: "testa", Path: "/d", Endpoints: []string{"h:1"}}, []string{"endpoints", "directory"}},
		{kv.Config{Backend: "testa", Path: "/d", Username: "u"}, []string{"username", "networked backend"}},
		{kv.Config{Backend: "testnet", Path: "rel", Endpoints: []string{"h:1"}}, []string{"path", "starting with '/'"}},
		{kv.Config{Backend: "testnet", Path: "/p", Endpoints: []string{"h:1/x"}}, []string{"endpoints[0]", "host:port"}},
		{kv.Config{Backend: "testnet", Path: "/p"}, []string{"endpoints", "at least one"}},
	} {
		err := tc.cfg.Validate()
		if !errors.Is(err, kv.ErrInvalidConfig) {
			t.Errorf("Validate(%s) = %v, want ErrInvalidConfig", tc.cfg, err)
			continue
		}
		for _, s := range tc.errs {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("Validate(%s) = %q, want it to mention %q", tc.cfg, err, s)
			}
		}
	}
}
