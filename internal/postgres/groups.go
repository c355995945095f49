package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/connops/connops/internal/connections"
)

// groupsInScope joins external groups to their connection's current
// incarnation, under the caller's scope.
const groupsInScope = `FROM external_groups g WHERE g.tenant_id = $1 AND g.connection_uid = ` + visibleConnectionUID

const groupColumns = `g.id, coalesce(g.display_name, ''), coalesce(g.description, ''), g.version, g.created_at, g.updated_at`

func scanGroup(row pgx.Row) (connections.ExternalGroup, error) {
	var g connections.ExternalGroup
	err := row.Scan(&g.ID, &g.DisplayName, &g.Description, &g.Version, &g.CreatedAt, &g.UpdatedAt)
	return g, err
}

const insertGroupSQL = `
INSERT INTO external_groups AS g (tenant_id, connection_uid, id, display_name, description)
SELECT c.tenant_id, c.uid, $5, nullif($6, ''), nullif($7, '') FROM connections c WHERE ` + visibleConnection + ` AND c.id = $4
RETURNING ` + groupColumns

// CreateGroup creates an external group; no row back means the connection
// is not in scope.
func (s *Store) CreateGroup(ctx context.Context, scope connections.Scope, connectionID string, g connections.ExternalGroup) (connections.ExternalGroup, error) {
	created, err := scanGroup(s.pool.QueryRow(ctx, insertGroupSQL, scopeArgs(scope, connectionID, g.ID, g.DisplayName, g.Description)...))
	if err != nil {
		return connections.ExternalGroup{}, fmt.Errorf("insert group %s/%s: %w", connectionID, g.ID, domainError(err))
	}
	return created, nil
}

const getGroupSQL = `SELECT ` + groupColumns + ` ` + groupsInScope + ` AND g.id = $5`

// GetGroup reads one external group.
func (s *Store) GetGroup(ctx context.Context, scope connections.Scope, connectionID, id string) (connections.ExternalGroup, error) {
	g, err := scanGroup(s.pool.QueryRow(ctx, getGroupSQL, scopeArgs(scope, connectionID, id)...))
	if err != nil {
		return connections.ExternalGroup{}, fmt.Errorf("select group %s/%s: %w", connectionID, id, domainError(err))
	}
	return g, nil
}

// updateGroupSQL changes the given fields ($6, $8 say which).
const updateGroupSQL = `
UPDATE external_groups g SET
  display_name = CASE WHEN $6 THEN nullif($7, '') ELSE g.display_name END,
  description = CASE WHEN $8 THEN nullif($9, '') ELSE g.description END,
  version = g.version + 1, updated_at = now()
WHERE g.tenant_id = $1 AND g.connection_uid = ` + visibleConnectionUID + ` AND g.id = $5
RETURNING ` + groupColumns

// UpdateGroup applies a patch to a group.
func (s *Store) UpdateGroup(ctx context.Context, scope connections.Scope, connectionID, id string, p connections.GroupPatch) (connections.ExternalGroup, error) {
	var name, desc string
	if p.DisplayName != nil {
		name = *p.DisplayName
	}
	if p.Description != nil {
		desc = *p.Description
	}
	g, err := scanGroup(s.pool.QueryRow(ctx, updateGroupSQL, scopeArgs(scope, connectionID, id, p.DisplayName != nil, name, p.Description != nil, desc)...))
	if err != nil {
		return connections.ExternalGroup{}, fmt.Errorf("update group %s/%s: %w", connectionID, id, domainError(err))
	}
	return g, nil
}

const deleteGroupSQL = `DELETE ` + groupsInScope + ` AND g.id = $5`

// DeleteGroup deletes a group; its members go with it.
func (s *Store) DeleteGroup(ctx context.Context, scope connections.Scope, connectionID, id string) error {
	tag, err := s.pool.Exec(ctx, deleteGroupSQL, scopeArgs(scope, connectionID, id)...)
	if err != nil {
		return fmt.Errorf("delete group %s/%s: %w", connectionID, id, domainError(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("delete group %s/%s: %w", connectionID, id, connections.ErrNotFound)
	}
	return nil
}

const memberColumns = `m.id, m.type, coalesce(m.identity_source, '')`

func scanMember(row pgx.Row) (connections.Member, error) {
	var m connections.Member
	err := row.Scan(&m.ID, &m.Type, &m.IdentitySource)
	return m, err
}

const insertMemberSQL = `
INSERT INTO group_members AS m (tenant_id, connection_uid, group_id, id, type, identity_source)
SELECT g.tenant_id, g.connection_uid, g.id, $6, $7, nullif($8, '') ` + groupsInScope + ` AND g.id = $5
RETURNING ` + memberColumns

// AddMember adds a member to a group in scope.
func (s *Store) AddMember(ctx context.Context, scope connections.Scope, connectionID, groupID string, m connections.Member) (connections.Member, error) {
	added, err := scanMember(s.pool.QueryRow(ctx, insertMemberSQL, scopeArgs(scope, connectionID, groupID, m.ID, m.Type, m.IdentitySource)...))
	if err != nil {
		return connections.Member{}, fmt.Errorf("insert member %s/%s/%s: %w", connectionID, groupID, m.ID, domainError(err))
	}
	return added, nil
}

const membersInScope = `FROM group_members m WHERE m.tenant_id = $1 AND m.connection_uid = ` + visibleConnectionUID + ` AND m.group_id = $5`

const getMemberSQL = `SELECT ` + memberColumns + ` ` + membersInScope + ` AND m.id = $6`

// GetMember reads one member of a group.
func (s *Store) GetMember(ctx context.Context, scope connections.Scope, connectionID, groupID, id string) (connections.Member, error) {
	m, err := scanMember(s.pool.QueryRow(ctx, getMemberSQL, scopeArgs(scope, connectionID, groupID, id)...))
	if err != nil {
		return connections.Member{}, fmt.Errorf("select member %s/%s/%s: %w", connectionID, groupID, id, domainError(err))
	}
	return m, nil
}

func memberColumn(string) (string, string) { return "m.id", "" }

// ListMembers reads one page of a group's members by id. A group out of
// scope is ErrNotFound.
func (s *Store) ListMembers(ctx context.Context, scope connections.Scope, connectionID, groupID string, lq connections.ListQuery) (connections.Page[connections.Member], error) {
	if _, err := s.GetGroup(ctx, scope, connectionID, groupID); err != nil {
		return connections.Page[connections.Member]{}, err
	}
	q := &query{args: scopeArgs(scope, connectionID, groupID)}
	q.sql.WriteString(`SELECT ` + memberColumns + ` ` + membersInScope)
	if lq.Filter != nil {
		q.sql.WriteString(" AND ")
		q.writeFilterWith(lq.Filter, memberColumn)
	}
	q.writePage(lq, memberColumn)
	page, err := selectPage(ctx, s.pool, q, lq,
		func(r pgx.CollectableRow) (connections.Member, error) { return scanMember(r) },
		func(m connections.Member, _ string) string { return m.ID })
	if err != nil {
		return page, fmt.Errorf("select members: %w", err)
	}
	if lq.Count {
		var n int64
		if err := s.pool.QueryRow(ctx, `SELECT count(*) `+membersInScope, scopeArgs(scope, connectionID, groupID)...).Scan(&n); err != nil {
			return page, fmt.Errorf("count members: %w", domainError(err))
		}
		page.Count = &n
	}
	return page, nil
}

const deleteMemberSQL = `DELETE ` + membersInScope + ` AND m.id = $6`

// DeleteMember removes a member from a group.
func (s *Store) DeleteMember(ctx context.Context, scope connections.Scope, connectionID, groupID, id string) error {
	tag, err := s.pool.Exec(ctx, deleteMemberSQL, scopeArgs(scope, connectionID, groupID, id)...)
	if err != nil {
		return fmt.Errorf("delete member %s/%s/%s: %w", connectionID, groupID, id, domainError(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("delete member %s/%s/%s: %w", connectionID, groupID, id, connections.ErrNotFound)
	}
	return nil
}
