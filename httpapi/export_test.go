package httpapi

import "time"

// SetCertCheckEvery shortens the certificate renewal check (tests).
func SetCertCheckEvery(d time.Duration) func() {
	old := certCheckEvery
	certCheckEvery = d
	return func() { certCheckEvery = old }
}
