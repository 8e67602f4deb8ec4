package ui

import (
	"testing"
	"time"
)

// Every one-character change to a valid cookie is refused: none of its parts,
// the signature's last character included, has a second spelling.
func TestSessionCookieHasOneSpelling(t *testing.T) {
	t.Parallel()
	keys := newSessionKeys([]string{"ui-token-a-00112233445566"})
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
	for i := 0; i < 20; i++ {
		nonce := []byte{byte(i), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
		cookie, _ := keys[0].open(now, time.Hour, nonce)
		if _, err := verifySession(keys, cookie, now); err != nil {
			t.Fatalf("fresh cookie refused: %v", err)
		}
		for pos := range len(cookie) {
			for _, c := range []byte(alphabet) {
				if c == cookie[pos] {
					continue
				}
				altered := cookie[:pos] + string(c) + cookie[pos+1:]
				if _, err := verifySession(keys, altered, now); err == nil {
					t.Fatalf("cookie %q altered at %d to %q still verifies", cookie, pos, c)
				}
			}
		}
	}
}
