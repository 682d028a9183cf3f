package postgres

import (
	"runtime"
	"strings"
	"testing"
)

func TestPoolSize(t *testing.T) {
	byDefault := max(8, 4*runtime.GOMAXPROCS(0))
	for _, c := range []struct {
		dsn, want string
		conns     int
	}{
		{"postgres://u@h:5432/db?sslmode=disable", "postgres://u@h:5432/db?sslmode=disable", byDefault},
		{"postgres://u@h:5432/db?pool_max_conns=3&sslmode=disable", "postgres://u@h:5432/db?sslmode=disable", 3},
		{"postgresql://u@h/db?pool_max_conns=40", "postgresql://u@h/db", 40},
		{"host=h user=u dbname=db", "host=h user=u dbname=db", byDefault},
	} {
		dsn, conns, err := poolSize(c.dsn)
		if err != nil || dsn != c.want || conns != c.conns {
			t.Errorf("poolSize(%q) = %q, %d, %v; want %q, %d", c.dsn, dsn, conns, err, c.want, c.conns)
		}
	}
	for _, v := range []string{"0", "-1", "many", "2.5"} {
		if _, _, err := poolSize("postgres://u@h/db?pool_max_conns=" + v); err == nil || !strings.Contains(err.Error(), "pool_max_conns") {
			t.Errorf("pool_max_conns=%s: %v, want an error naming it", v, err)
		}
	}
}
