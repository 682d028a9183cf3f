//go:build !(cgo && linux)

package fastrsa

import (
	"crypto"
	"crypto/rsa"
)

func backend() string { return "crypto/rsa (built without cgo)" }

func opensslSigner(*rsa.PrivateKey) (crypto.Signer, bool) { return nil, false }
