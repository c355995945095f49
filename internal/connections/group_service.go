package connections

import (
	"context"
	"errors"
)

// CreateGroup creates an external group on a connection.
func (s *Service) CreateGroup(ctx context.Context, caller Caller, connectionID string, g ExternalGroup) (ExternalGroup, error) {
	scope, err := caller.itemWriteScope()
	if err != nil {
		return ExternalGroup{}, err
	}
	if err := g.Validate(); err != nil {
		return ExternalGroup{}, err
	}
	created, err := s.store.CreateGroup(ctx, scope, connectionID, g)
	if errors.Is(err, ErrAlreadyExists) {
		return ExternalGroup{}, describe(ErrAlreadyExists, err, "An external group with the id '%s' already exists on connection '%s'.", g.ID, truncate(connectionID, 64))
	}
	if err != nil {
		return ExternalGroup{}, connectionError(err, connectionID)
	}
	return created, nil
}

// GetGroup returns one external group.
func (s *Service) GetGroup(ctx context.Context, caller Caller, connectionID, id string) (ExternalGroup, error) {
	scope, err := caller.itemReadScope()
	if err != nil {
		return ExternalGroup{}, err
	}
	g, err := s.store.GetGroup(ctx, scope, connectionID, id)
	if err != nil {
		return ExternalGroup{}, groupError(err, connectionID, id)
	}
	return g, nil
}

// UpdateGroup applies a PATCH to a group.
func (s *Service) UpdateGroup(ctx context.Context, caller Caller, connectionID, id string, p GroupPatch) (ExternalGroup, error) {
	scope, err := caller.itemWriteScope()
	if err != nil {
		return ExternalGroup{}, err
	}
	check := ExternalGroup{ID: id}
	if p.DisplayName != nil {
		check.DisplayName = *p.DisplayName
	}
	if p.Description != nil {
		check.Description = *p.Description
	}
	if err := check.Validate(); err != nil {
		return ExternalGroup{}, err
	}
	g, err := s.store.UpdateGroup(ctx, scope, connectionID, id, p)
	if err != nil {
		return ExternalGroup{}, groupError(err, connectionID, id)
	}
	return g, nil
}

// DeleteGroup deletes a group and its members.
func (s *Service) DeleteGroup(ctx context.Context, caller Caller, connectionID, id string) error {
	scope, err := caller.itemWriteScope()
	if err != nil {
		return err
	}
	if err := s.store.DeleteGroup(ctx, scope, connectionID, id); err != nil {
		return groupError(err, connectionID, id)
	}
	return nil
}

// AddMember adds a user, group or external group to an external group.
func (s *Service) AddMember(ctx context.Context, caller Caller, connectionID, groupID string, m Member) (Member, error) {
	scope, err := caller.itemWriteScope()
	if err != nil {
		return Member{}, err
	}
	if err := m.validate(); err != nil {
		return Member{}, err
	}
	added, err := s.store.AddMember(ctx, scope, connectionID, groupID, m)
	if errors.Is(err, ErrAlreadyExists) {
		return Member{}, describe(ErrAlreadyExists, err, "'%s' is already a member of the external group '%s'.", m.ID, truncate(groupID, 128))
	}
	if err != nil {
		return Member{}, groupError(err, connectionID, groupID)
	}
	return added, nil
}

// GetMember returns one member of a group.
func (s *Service) GetMember(ctx context.Context, caller Caller, connectionID, groupID, id string) (Member, error) {
	scope, err := caller.itemReadScope()
	if err != nil {
		return Member{}, err
	}
	m, err := s.store.GetMember(ctx, scope, connectionID, groupID, id)
	if err != nil {
		return Member{}, memberError(err, groupID, id)
	}
	return m, nil
}

// memberFields are the properties of a member, for $select.
var memberFields = []string{FieldID, "type", "identitySource"}

// ListMembers returns one page of a group's members, by id.
func (s *Service) ListMembers(ctx context.Context, caller Caller, connectionID, groupID string, q ListQuery) (Page[Member], error) {
	scope, err := caller.itemReadScope()
	if err != nil {
		return Page[Member]{}, err
	}
	if err := validateIDQuery(&q, memberFields, "members"); err != nil {
		return Page[Member]{}, err
	}
	page, err := s.store.ListMembers(ctx, scope, connectionID, groupID, q)
	if err != nil {
		return Page[Member]{}, groupError(err, connectionID, groupID)
	}
	return page, nil
}

// DeleteMember removes a member from a group.
func (s *Service) DeleteMember(ctx context.Context, caller Caller, connectionID, groupID, id string) error {
	scope, err := caller.itemWriteScope()
	if err != nil {
		return err
	}
	if err := s.store.DeleteMember(ctx, scope, connectionID, groupID, id); err != nil {
		return memberError(err, groupID, id)
	}
	return nil
}

func groupError(err error, connectionID, id string) error {
	if errors.Is(err, ErrNotFound) {
		return describe(ErrNotFound, err, "The external group '%s' does not exist on connection '%s'.", truncate(id, 128), truncate(connectionID, 64))
	}
	return err
}

func memberError(err error, groupID, id string) error {
	if errors.Is(err, ErrNotFound) {
		return describe(ErrNotFound, err, "'%s' is not a member of the external group '%s'.", truncate(id, 128), truncate(groupID, 128))
	}
	return err
}
