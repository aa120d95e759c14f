package testkit

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Certs are PEM files for TLS tests, written by WriteCerts.
type Certs struct {
	Dir        string
	CA         string // ca.pem: the CA that signed the broker and client certificates
	Broker     string // broker.pem: the broker's PKCS#8 key, then its certificate (kafka.sh --tls)
	ClientCert string // client-cert.pem
	ClientKey  string // client-key.pem
	OtherCA    string // other-ca.pem: an unrelated CA, which must not be trusted
}

// WriteCerts writes a fresh CA, a broker certificate for 127.0.0.1 and
// localhost, and a client certificate into dir.
func WriteCerts(t testing.TB, dir string) Certs {
	t.Helper()
	c := Certs{Dir: dir, CA: filepath.Join(dir, "ca.pem"), Broker: filepath.Join(dir, "broker.pem"),
		ClientCert: filepath.Join(dir, "client-cert.pem"), ClientKey: filepath.Join(dir, "client-key.pem"),
		OtherCA: filepath.Join(dir, "other-ca.pem")}
	caKey, caCert, caDER := newCA(t, "peakend test CA")
	_, _, otherDER := newCA(t, "some other CA")
	brokerKey, brokerDER := leaf(t, caKey, caCert, "broker", x509.ExtKeyUsageServerAuth)
	clientKey, clientDER := leaf(t, caKey, caCert, "peakend", x509.ExtKeyUsageClientAuth)
	write(t, c.CA, pemBlock("CERTIFICATE", caDER))
	write(t, c.OtherCA, pemBlock("CERTIFICATE", otherDER))
	write(t, c.Broker, append(pemBlock("PRIVATE KEY", brokerKey), pemBlock("CERTIFICATE", brokerDER)...))
	write(t, c.ClientCert, pemBlock("CERTIFICATE", clientDER))
	write(t, c.ClientKey, pemBlock("PRIVATE KEY", clientKey))
	return c
}

func newCA(t testing.TB, name string) (*ecdsa.PrivateKey, *x509.Certificate, []byte) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: serial(t), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return key, cert, der
}

func leaf(t testing.TB, caKey *ecdsa.PrivateKey, ca *x509.Certificate, name string, usage x509.ExtKeyUsage) (pkcs8, der []byte) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: serial(t), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err = x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	require.NoError(t, err)
	pkcs8, err = x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	return pkcs8, der
}

func serial(t testing.TB) *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	require.NoError(t, err)
	return n
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func write(t testing.TB, path string, b []byte) {
	require.NoError(t, os.WriteFile(path, b, 0o600))
}
