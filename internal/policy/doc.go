// Package policy owns access policy: a realm's ordered rules that allow or
// deny identities (directly or by group) the use of applications, the
// evaluation of a sign-in against them, and the explanation of each
// decision ("why was I denied?").
//
// It must not import HTTP packages, storage engines or oauth: oauth asks
// it before every code and refresh it issues.
package policy
