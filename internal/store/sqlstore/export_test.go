package sqlstore

import "strconv"

// Statements that tests outside the package explain.
var (
	GetSession               = getSession
	GetSessionWithIdentity   = getSessionWithIdentity
	UseSession               = useSession
	RecordSessionApplication = recordApplications("($1, $2, " + bigint("$3") + ")")
	RenewSession             = renewSession
	FinishAuthRequests       = finishAuthRequests(finishRow(1)+", "+finishRow(15), "($29, $30)")
)

// finishRow is a row of finishAuthRequests' values from parameter $first.
func finishRow(first int) string {
	p := func(i int) string { return "$" + strconv.Itoa(first+i) }
	return "(" + p(0) + ", " + p(1) + ", " + p(2) + ", " + p(3) + ", " + p(4) + ", " + bigint(p(5)) + ", " + p(6) + ", " + p(7) + ", " +
		bigint(p(8)) + ", " + p(9) + ", " + bigint(p(10)) + ", " + p(11) + ", " + p(12) + ", " + p(13) + ")"
}
