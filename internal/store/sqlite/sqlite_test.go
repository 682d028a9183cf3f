package sqlite_test

import (
	"testing"

	"github.com/latchkey/latchkey/internal/store/storetest"
	"github.com/latchkey/latchkey/internal/testenv"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, testenv.OpenSQLite)
}
