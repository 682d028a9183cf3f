// Package scim serves SCIM 2.0 (RFC 7643, RFC 7644) over the directory
// service: the User and Group resource types and their schemas, the mapping
// between them and the directory's identities and groups, PATCH, attribute
// projection, and the translation of SCIM filters into the directory's filter
// vocabulary. It must not import storage engines.
//
// Its core is pure: no I/O, no state. One description of the attributes,
// UserResource and GroupResource, drives the /Schemas documents, request
// decoding, PATCH and filter translation, so what the server says about an
// attribute is what it does with it.
package scim
