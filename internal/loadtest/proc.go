package loadtest

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// What the benchmark reads of processes and of the machine from /proc.

// clockTick is the unit of the CPU times in /proc (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

// readMemory returns VmRSS and VmHWM of a process, in bytes.
func readMemory(pid int) (rss, hwm int64, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		name, value, _ := strings.Cut(sc.Text(), ":")
		var dst *int64
		switch name {
		case "VmRSS":
			dst = &rss
		case "VmHWM":
			dst = &hwm
		default:
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/%d/status: %s: %w", pid, name, err)
		}
		*dst = kb << 10
	}
	return rss, hwm, nil
}

// memoryWatch samples a process's VmRSS and keeps the largest value since
// the last reset.
type memoryWatch struct {
	mu   sync.Mutex
	peak int64
	quit chan struct{}
}

func watchMemory(pid int) *memoryWatch {
	m := &memoryWatch{quit: make(chan struct{})}
	go func() {
		t := time.NewTicker(sampleEvery)
		defer t.Stop()
		for {
			if rss, _, err := readMemory(pid); err == nil {
				m.mu.Lock()
				m.peak = max(m.peak, rss)
				m.mu.Unlock()
			}
			select {
			case <-m.quit:
				return
			case <-t.C:
			}
		}
	}()
	return m
}

func (m *memoryWatch) reset() {
	m.mu.Lock()
	m.peak = 0
	m.mu.Unlock()
}

func (m *memoryWatch) max() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.peak
}

func (m *memoryWatch) stop() { close(m.quit) }

// cpuTime returns the CPU time (user and system, all threads) that process
// pid has used.
func cpuTime(pid int) (time.Duration, error) {
	_, d, err := procStat(strconv.Itoa(pid))
	return d, err
}

// procStat returns the command name and CPU time of process pid.
func procStat(pid string) (string, time.Duration, error) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return "", 0, err
	}
	// pid (comm) state … with utime and stime the 14th and 15th fields.
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return "", 0, fmt.Errorf("/proc/%s/stat: no command", pid)
	}
	f := strings.Fields(string(b[end+1:]))
	if len(f) < 13 {
		return "", 0, fmt.Errorf("/proc/%s/stat: too few fields", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return "", 0, fmt.Errorf("/proc/%s/stat: bad times", pid)
	}
	return string(b[open+1 : end]), time.Duration(utime+stime) * clockTick, nil
}

// postgresCPU returns the CPU time that each process named postgres (the
// local PostgreSQL server's) has used, by pid.
func postgresCPU() (map[string]time.Duration, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	times := map[string]time.Duration{}
	for _, e := range entries {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		if comm, d, err := procStat(e.Name()); err == nil && comm == "postgres" {
			times[e.Name()] = d
		}
	}
	return times, nil
}

// postgresDelta returns the CPU time that the PostgreSQL processes for
// which counted is true used between two readings of postgresCPU. A process
// that exited in between is not counted; the server's pooled connections
// live on.
func postgresDelta(before, after map[string]time.Duration, counted func(pid string) bool) time.Duration {
	var sum time.Duration
	for pid, d := range after {
		if counted(pid) {
			sum += d - before[pid]
		}
	}
	return sum
}

// backends finds the PostgreSQL backends that serve one database: with
// the load tool's own connections closed, those of the server's pool.
type backends struct {
	db       *sql.DB // to the server's maintenance database, not the one watched
	database string
}

func openBackends(adminDSN, database string) (*backends, error) {
	db, err := sql.Open("pgx", adminDSN) // registered by internal/store/postgres
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return &backends{db: db, database: database}, nil
}

// pids returns the process ids of the backends connected to the database.
func (b *backends) pids(ctx context.Context) ([]string, error) {
	rows, err := b.db.QueryContext(ctx, `SELECT pid::text FROM pg_stat_activity WHERE datname = $1`, b.database)
	if err != nil {
		return nil, fmt.Errorf("pg_stat_activity: %w", err)
	}
	defer rows.Close()
	var pids []string
	for rows.Next() {
		var pid string
		if err := rows.Scan(&pid); err != nil {
			return nil, err
		}
		pids = append(pids, pid)
	}
	return pids, rows.Err()
}

func (b *backends) close() { b.db.Close() }

// machineBusy returns the CPU time all processors of the machine have spent
// running: neither idle, nor waiting for I/O, nor stolen by a hypervisor.
func machineBusy() (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq …
	if len(f) < 8 || f[0] != "cpu" {
		return 0, fmt.Errorf("/proc/stat: unexpected first line %q", line)
	}
	var busy int64
	for i, v := range f[1:8] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/stat: %w", err)
		}
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return time.Duration(busy) * clockTick, nil
}
