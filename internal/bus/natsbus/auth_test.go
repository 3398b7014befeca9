package natsbus_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"

	"github.com/switchyardhq/switchyard/internal/bus/natsbus"
)

// An external server that wants TLS with client certificates and NKey
// authentication: the log connects with the options set, and each missing
// one is refused with the server's or TLS's reason.
func TestExternalTLSAndNKey(t *testing.T) {
	dir := t.TempDir()
	ca, caKey := certificate(t, dir, "ca", nil, nil)
	certificate(t, dir, "server", ca, caKey)
	certificate(t, dir, "client", ca, caKey)
	user, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := user.Seed()
	public, _ := user.PublicKey()
	seedFile := filepath.Join(dir, "user.nk")
	if err := os.WriteFile(seedFile, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	tlsConfig, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: filepath.Join(dir, "server.pem"),
		KeyFile: filepath.Join(dir, "server-key.pem"), CaFile: filepath.Join(dir, "ca.pem"), Verify: true})
	if err != nil {
		t.Fatal(err)
	}
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: filepath.Join(dir, "js"),
		TLS: true, TLSVerify: true, TLSConfig: tlsConfig, Nkeys: []*server.NkeyUser{{Nkey: public}}, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	defer ns.Shutdown()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	url := fmt.Sprintf("tls://127.0.0.1:%d", ns.Addr().(*net.TCPAddr).Port)
	all := natsbus.Options{URL: url, NKeySeed: seedFile, CAFile: filepath.Join(dir, "ca.pem"),
		CertFile: filepath.Join(dir, "client.pem"), KeyFile: filepath.Join(dir, "client-key.pem"), Log: quietLogger()}
	l, err := natsbus.Open(t.Context(), all)
	if err != nil {
		t.Fatalf("with every option: %v", err)
	}
	if _, err := l.Append(t.Context(), "web", "m-1", []byte(`{}`)); err != nil {
		t.Fatalf("append over TLS: %v", err)
	}
	_ = l.Close()
	for _, tc := range []struct {
		name string
		drop func(*natsbus.Options)
		want string
	}{
		{"no nkey", func(o *natsbus.Options) { o.NKeySeed = "" }, "authorization"},
		{"no CA", func(o *natsbus.Options) { o.CAFile = "" }, "certificate"},
		// TLS 1.3 finishes the client's side of the handshake before the
		// server checks its certificate, so the refusal reads either as
		// the server's alert or as the connection it closed.
		{"no client certificate", func(o *natsbus.Options) { o.CertFile, o.KeyFile = "", "" }, "tls"},
		{"missing seed file", func(o *natsbus.Options) { o.NKeySeed = filepath.Join(dir, "none.nk") }, "nkey"},
	} {
		o := all
		tc.drop(&o)
		l, err := natsbus.Open(t.Context(), o)
		if err == nil {
			_ = l.Close()
			t.Errorf("%s: connected", tc.name)
		} else if !strings.Contains(strings.ToLower(err.Error()), tc.want) {
			t.Errorf("%s: %v, want it to mention %q", tc.name, err, tc.want)
		}
	}
}

// certificate writes <name>.pem and <name>-key.pem in dir: a CA when
// parent is nil, else a leaf for 127.0.0.1 signed by parent.
func certificate(t *testing.T, dir, name string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign}
	if parent == nil {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		parent, parentKey = tmpl, key
	} else {
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	for file, block := range map[string]*pem.Block{name + ".pem": {Type: "CERTIFICATE", Bytes: der},
		name + "-key.pem": {Type: "EC PRIVATE KEY", Bytes: keyDER}} {
		if err := os.WriteFile(filepath.Join(dir, file), pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}
