package sdk_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	abstractions "github.com/microsoft/kiota-abstractions-go"
	azauth "github.com/microsoft/kiota-authentication-azure-go"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	"github.com/microsoftgraph/msgraph-sdk-go/external"
	"github.com/microsoftgraph/msgraph-sdk-go/models/externalconnectors"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"

	"github.com/connops/connops/internal/auth"
	"github.com/connops/connops/internal/connections"
)

// itemClient is a client on e's server whose app also holds
// ExternalItem.ReadWrite.All, as a connector's app does: items and external
// groups need Graph's ExternalItem permissions, which the suite's default
// client does not carry.
func itemClient(t *testing.T, e *env) *msgraphsdk.GraphServiceClient {
	t.Helper()
	tok, err := auth.Issue([]byte(testSecret), auth.DevToken{
		TenantID: "tenant-sdk", AppID: "app-sdk",
		Roles: []string{connections.PermReadWriteAll, connections.PermItemReadWriteAll}, TTL: time.Hour,
	}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// Built as newClient builds the suite's client, with this token.
	authProvider, err := azauth.NewAzureIdentityAuthenticationProviderWithScopesAndValidHosts(
		staticToken(tok), []string{"https://graph.microsoft.com/.default"}, []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	adapter, err := msgraphsdk.NewGraphRequestAdapter(authProvider)
	if err != nil {
		t.Fatal(err)
	}
	adapter.SetBaseUrl(e.client.GetAdapter().GetBaseUrl())
	return msgraphsdk.NewGraphServiceClient(adapter)
}

// readyForItems creates a connection and registers a schema on it with the
// SDK, then waits until the connection is ready.
func readyForItems(t *testing.T, e *env, id string) {
	t.Helper()
	e.createConnection(id)
	schema := externalconnectors.NewSchema()
	schema.SetBaseType(ptr("microsoft.graph.externalItem"))
	schema.SetProperties([]externalconnectors.Propertyable{
		sdkProperty("title", externalconnectors.STRING_PROPERTYTYPE, true, true, externalconnectors.TITLE_LABEL),
		sdkProperty("tags", externalconnectors.STRINGCOLLECTION_PROPERTYTYPE, true, true),
		sdkProperty("modified", externalconnectors.DATETIME_PROPERTYTYPE, false, true, externalconnectors.LASTMODIFIEDDATETIME_LABEL),
		sdkProperty("priority", externalconnectors.INT64_PROPERTYTYPE, false, true),
	})
	conn := e.connections().ByExternalConnectionId(id)
	if _, err := conn.Schema().Patch(t.Context(), schema, nil); err != nil {
		t.Fatalf("patch schema: %s", describe(err))
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := conn.Get(t.Context(), nil)
		if err != nil {
			t.Fatalf("get connection: %s", describe(err))
		}
		if s := got.GetState(); s != nil && *s == externalconnectors.READY_CONNECTIONSTATE {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("connection %s did not become ready", id)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func newACL(typ externalconnectors.AclType, access externalconnectors.AccessType, value string) externalconnectors.Aclable {
	a := externalconnectors.NewAcl()
	a.SetTypeEscaped(&typ)
	a.SetAccessType(&access)
	a.SetValue(&value)
	return a
}

// newItem builds an item as a connector would: a non-ASCII string with its
// "String" annotation, a Collection(String) with its annotation (Graph
// requires both), a dateTime, an Int64, an acl of everyone, a user and an
// external group, and text content.
func newItem(id, title string, tags []string) *externalconnectors.ExternalItem {
	item := externalconnectors.NewExternalItem()
	item.SetId(&id)
	props := externalconnectors.NewProperties()
	props.SetAdditionalData(map[string]any{
		"title@odata.type": "String",
		"title":            title,
		"tags@odata.type":  "Collection(String)",
		"tags":             tags,
		"modified":         "2026-11-30T08:15:00Z",
		"priority":         int64(3),
	})
	item.SetProperties(props)
	item.SetAcl([]externalconnectors.Aclable{
		newACL(externalconnectors.EVERYONE_ACLTYPE, externalconnectors.GRANT_ACCESSTYPE, "everyone"),
		newACL(externalconnectors.USER_ACLTYPE, externalconnectors.DENY_ACCESSTYPE, "e811f8d3-2a5f-4e38-8c64-1f0a1c2b3d4e"),
		newACL(externalconnectors.EXTERNALGROUP_ACLTYPE, externalconnectors.GRANT_ACCESSTYPE, "sdkengineering"),
	})
	content := externalconnectors.NewExternalItemContent()
	contentType := externalconnectors.TEXT_EXTERNALITEMCONTENTTYPE
	content.SetTypeEscaped(&contentType)
	content.SetValue(ptr("Plain text of " + id + "."))
	item.SetContent(content)
	return item
}

// stringsOf reads a collection property the SDK decoded into additional
// data: a []any of *string.
func stringsOf(t *testing.T, v any) []string {
	t.Helper()
	elems, ok := v.([]any)
	if !ok {
		t.Fatalf("collection decoded as %T, want []any", v)
	}
	out := make([]string, len(elems))
	for i, el := range elems {
		s, ok := el.(*string)
		if !ok {
			t.Fatalf("collection element decoded as %T, want *string", el)
		}
		out[i] = *s
	}
	return out
}

func stringOf(v any) any {
	if s, ok := v.(*string); ok {
		return *s
	}
	return v
}

// TestItemsThroughTheSDK: PUT (create and replace), GET, PATCH, list,
// $count and DELETE of items with the SDK's request builders; the values
// come back through the SDK's models as they were sent.
func TestItemsThroughTheSDK(t *testing.T) {
	e := newEnvWith(t, map[string]string{"PROVISIONING_DELAY": "0s"})
	client := itemClient(t, e)
	items := func(conn string) *external.ConnectionsItemItemsRequestBuilder {
		return client.External().Connections().ByExternalConnectionId(conn).Items()
	}

	// Before the schema is active an item write is a 409 naming the state.
	e.createConnection("sdkdraft")
	_, err := items("sdkdraft").ByExternalItemId("i1").Put(t.Context(), newItem("i1", "x", []string{"a"}), nil)
	if odataErr := wantODataError(t, err, http.StatusConflict, "conflict"); !strings.Contains(*odataErr.GetErrorEscaped().GetMessage(), "draft") {
		t.Errorf("409 message does not name the state: %s", describe(err))
	}

	readyForItems(t, e, "sdkitems")
	one := items("sdkitems").ByExternalItemId("sdk-item-1")
	if _, err := one.Put(t.Context(), newItem("sdk-item-1", "Überblick über Drosselung", []string{"throttling", "apps"}), nil); err != nil {
		t.Fatalf("put: %s", describe(err))
	}
	put := e.wire.last(t)
	if put.status != http.StatusOK || put.respHeader.Get("Location") != "" {
		t.Errorf("PUT answered %d with Location %q; want 200 and none", put.status, put.respHeader.Get("Location"))
	}
	if sent := put.body(t); !strings.Contains(sent, `"tags@odata.type":"Collection(String)"`) {
		t.Errorf("the SDK sent no collection annotation: %s", sent)
	}

	got, err := one.Get(t.Context(), nil)
	if err != nil {
		t.Fatalf("get: %s", describe(err))
	}
	if deref(got.GetId()) != "sdk-item-1" {
		t.Errorf("id read back: %v", deref(got.GetId()))
	}
	props := got.GetProperties().GetAdditionalData()
	if stringOf(props["title"]) != "Überblick über Drosselung" || stringOf(props["modified"]) != "2026-11-30T08:15:00Z" {
		t.Errorf("string and dateTime read back: %v, %v", stringOf(props["title"]), stringOf(props["modified"]))
	}
	if n, ok := props["priority"].(*float64); !ok || *n != 3 {
		t.Errorf("Int64 read back: %T %v", props["priority"], props["priority"])
	}
	if tags := stringsOf(t, props["tags"]); !slices.Equal(tags, []string{"throttling", "apps"}) {
		t.Errorf("tags read back: %v", tags)
	}
	if a := stringOf(props["tags@odata.type"]); a != "Collection(String)" {
		t.Errorf("collection annotation read back: %v", a)
	}
	acl := got.GetAcl()
	if len(acl) != 3 {
		t.Fatalf("acl read back: %d entries", len(acl))
	}
	wantACL := []struct {
		typ    externalconnectors.AclType
		access externalconnectors.AccessType
		value  string
	}{
		{externalconnectors.EVERYONE_ACLTYPE, externalconnectors.GRANT_ACCESSTYPE, "everyone"},
		{externalconnectors.USER_ACLTYPE, externalconnectors.DENY_ACCESSTYPE, "e811f8d3-2a5f-4e38-8c64-1f0a1c2b3d4e"},
		{externalconnectors.EXTERNALGROUP_ACLTYPE, externalconnectors.GRANT_ACCESSTYPE, "sdkengineering"},
	}
	for i, w := range wantACL {
		a := acl[i]
		if a.GetTypeEscaped() == nil || *a.GetTypeEscaped() != w.typ || a.GetAccessType() == nil || *a.GetAccessType() != w.access || deref(a.GetValue()) != w.value {
			t.Errorf("acl[%d] read back: %v %v %v", i, deref(a.GetTypeEscaped()), deref(a.GetAccessType()), deref(a.GetValue()))
		}
	}
	if c := got.GetContent(); c == nil || c.GetTypeEscaped() == nil || *c.GetTypeEscaped() != externalconnectors.TEXT_EXTERNALITEMCONTENTTYPE ||
		deref(c.GetValue()) != "Plain text of sdk-item-1." {
		t.Errorf("content read back: %v", c)
	}

	// A second PUT replaces the item whole: its tags, acl and content go.
	replacement := newItem("sdk-item-1", "Replaced", []string{"only"})
	replacement.SetAcl(replacement.GetAcl()[:1])
	replacement.SetContent(nil)
	if _, err := one.Put(t.Context(), replacement, nil); err != nil {
		t.Fatalf("replace: %s", describe(err))
	}
	e.wire.wantStatus(t, http.StatusOK)
	got, err = one.Get(t.Context(), nil)
	if err != nil {
		t.Fatalf("get after replace: %s", describe(err))
	}
	props = got.GetProperties().GetAdditionalData()
	if stringOf(props["title"]) != "Replaced" || !slices.Equal(stringsOf(t, props["tags"]), []string{"only"}) || len(got.GetAcl()) != 1 || got.GetContent() != nil {
		t.Errorf("after replace: title %v, tags %v, %d acl entries, content %v", stringOf(props["title"]), props["tags"], len(got.GetAcl()), got.GetContent())
	}

	patched := patchItem(t, client, one, "sdk-item-1")
	props = patched.GetProperties().GetAdditionalData()
	if stringOf(props["title"]) != "Patched" || !slices.Equal(stringsOf(t, props["tags"]), []string{"only"}) {
		t.Errorf("PATCH did not merge properties: title %v, tags %v", stringOf(props["title"]), props["tags"])
	}
	if len(patched.GetAcl()) != 1 || patched.GetContent() == nil || *patched.GetContent().GetTypeEscaped() != externalconnectors.HTML_EXTERNALITEMCONTENTTYPE {
		t.Errorf("PATCH acl/content: %d acl entries, content %v", len(patched.GetAcl()), patched.GetContent())
	}

	// A bad value is Graph's 400 through the SDK's error model.
	bad := newItem("sdk-item-2", "t", []string{"a"})
	bad.GetProperties().GetAdditionalData()["modified"] = "yesterday"
	_, err = items("sdkitems").ByExternalItemId("sdk-item-2").Put(t.Context(), bad, nil)
	if odataErr := wantODataError(t, err, http.StatusBadRequest, "invalidRequest"); deref(odataErr.GetErrorEscaped().GetTarget()) != "properties.modified" {
		t.Errorf("400 target: %v", deref(odataErr.GetErrorEscaped().GetTarget()))
	}

	// The list and $count are connops extensions the SDK's builders reach.
	if _, err := items("sdkitems").ByExternalItemId("sdk-item-0").Put(t.Context(), newItem("sdk-item-0", "Zero", []string{"z"}), nil); err != nil {
		t.Fatalf("put sdk-item-0: %s", describe(err))
	}
	list, err := items("sdkitems").Get(t.Context(), nil)
	if err != nil {
		t.Fatalf("list: %s", describe(err))
	}
	var ids []string
	for _, it := range list.GetValue() {
		ids = append(ids, deref(it.GetId()).(string))
	}
	if !slices.Equal(ids, []string{"sdk-item-0", "sdk-item-1"}) {
		t.Errorf("listed %v", ids)
	}
	if n, err := items("sdkitems").Count().Get(t.Context(), nil); err != nil || n == nil || *n != 2 {
		t.Errorf("$count: %v %s", deref(n), describeOrNil(err))
	}

	if err := one.Delete(t.Context(), nil); err != nil {
		t.Fatalf("delete: %s", describe(err))
	}
	e.wire.wantStatus(t, http.StatusNoContent)
	_, err = one.Get(t.Context(), nil)
	wantODataError(t, err, http.StatusNotFound, "itemNotFound")
	if n, err := items("sdkitems").Count().Get(t.Context(), nil); err != nil || n == nil || *n != 1 {
		t.Errorf("$count after delete: %v %s", deref(n), describeOrNil(err))
	}
}

// patchItem PATCHes the title and replaces the content. msgraph-sdk-go
// v1.89.0 has no Patch on an externalItem's request builder (Graph's
// metadata declares the item updatable only by PUT), so the request is the
// builder's PUT request information turned into a PATCH and sent through
// the SDK's own request adapter: same URL template, serializer, middleware
// and error mapping.
func patchItem(t *testing.T, client *msgraphsdk.GraphServiceClient, b *external.ConnectionsItemItemsExternalItemItemRequestBuilder, id string) externalconnectors.ExternalItemable {
	t.Helper()
	patch := externalconnectors.NewExternalItem()
	props := externalconnectors.NewProperties()
	props.SetAdditionalData(map[string]any{"title": "Patched"})
	patch.SetProperties(props)
	content := externalconnectors.NewExternalItemContent()
	html := externalconnectors.HTML_EXTERNALITEMCONTENTTYPE
	content.SetTypeEscaped(&html)
	content.SetValue(ptr("<p>Patched " + id + "</p>"))
	patch.SetContent(content)
	info, err := b.ToPutRequestInformation(t.Context(), patch, nil)
	if err != nil {
		t.Fatal(err)
	}
	info.Method = abstractions.PATCH
	res, err := client.GetAdapter().Send(t.Context(), info, externalconnectors.CreateExternalItemFromDiscriminatorValue,
		abstractions.ErrorMappings{"XXX": odataerrors.CreateODataErrorFromDiscriminatorValue})
	if err != nil {
		t.Fatalf("patch item: %s", describe(err))
	}
	item, ok := res.(externalconnectors.ExternalItemable)
	if !ok {
		t.Fatalf("PATCH answered %T, want an externalItem", res)
	}
	return item
}

func describeOrNil(err error) string {
	if err == nil {
		return ""
	}
	return describe(err)
}

// TestExternalGroupsThroughTheSDK: create, get, PATCH and delete an
// external group, and add, get, list and remove its members, all with the
// SDK's request builders.
func TestExternalGroupsThroughTheSDK(t *testing.T) {
	e := newEnvWith(t, map[string]string{"PROVISIONING_DELAY": "0s"})
	client := itemClient(t, e)
	e.createConnection("sdkgroups") // groups need no schema
	groups := client.External().Connections().ByExternalConnectionId("sdkgroups").Groups()

	body := externalconnectors.NewExternalGroup()
	body.SetId(ptr("sdkengineering"))
	body.SetDisplayName(ptr("Engineering"))
	body.SetDescription(ptr("Everyone who builds things"))
	created, err := groups.Post(t.Context(), body, nil)
	if err != nil {
		t.Fatalf("create group: %s", describe(err))
	}
	e.wire.wantStatus(t, http.StatusCreated)
	if deref(created.GetId()) != "sdkengineering" || deref(created.GetDisplayName()) != "Engineering" || deref(created.GetDescription()) != "Everyone who builds things" {
		t.Errorf("created: %v %v %v", deref(created.GetId()), deref(created.GetDisplayName()), deref(created.GetDescription()))
	}
	_, err = groups.Post(t.Context(), body, nil)
	wantODataError(t, err, http.StatusConflict, "nameAlreadyExists")

	group := groups.ByExternalGroupId("sdkengineering")
	patch := externalconnectors.NewExternalGroup()
	patch.SetDescription(ptr("Builders"))
	if _, err := group.Patch(t.Context(), patch, nil); err != nil {
		t.Fatalf("patch group: %s", describe(err))
	}
	e.wire.wantStatus(t, http.StatusNoContent)
	got, err := group.Get(t.Context(), nil)
	if err != nil {
		t.Fatalf("get group: %s", describe(err))
	}
	if deref(got.GetDisplayName()) != "Engineering" || deref(got.GetDescription()) != "Builders" {
		t.Errorf("after PATCH: %v, %v", deref(got.GetDisplayName()), deref(got.GetDescription()))
	}

	members := group.Members()
	wantMembers := []struct {
		id  string
		typ externalconnectors.IdentityType
	}{
		{"e811f8d3-2a5f-4e38-8c64-1f0a1c2b3d4e", externalconnectors.USER_IDENTITYTYPE},
		{"f00dcafe-0000-4000-8000-000000000002", externalconnectors.GROUP_IDENTITYTYPE},
		{"sdkcontractors", externalconnectors.EXTERNALGROUP_IDENTITYTYPE},
	}
	for _, w := range wantMembers {
		m := externalconnectors.NewIdentity()
		m.SetId(ptr(w.id))
		m.SetTypeEscaped(&w.typ)
		added, err := members.Post(t.Context(), m, nil)
		if err != nil {
			t.Fatalf("add member %s: %s", w.id, describe(err))
		}
		e.wire.wantStatus(t, http.StatusCreated)
		if deref(added.GetId()) != w.id || added.GetTypeEscaped() == nil || *added.GetTypeEscaped() != w.typ {
			t.Errorf("added: %v %v", deref(added.GetId()), deref(added.GetTypeEscaped()))
		}
	}
	one, err := members.ByIdentityId("sdkcontractors").Get(t.Context(), nil)
	if err != nil {
		t.Fatalf("get member: %s", describe(err))
	}
	if one.GetTypeEscaped() == nil || *one.GetTypeEscaped() != externalconnectors.EXTERNALGROUP_IDENTITYTYPE {
		t.Errorf("member type read back: %v", deref(one.GetTypeEscaped()))
	}
	listMembers := func() []string {
		t.Helper()
		list, err := members.Get(t.Context(), nil)
		if err != nil {
			t.Fatalf("list members: %s", describe(err))
		}
		var ids []string
		for _, m := range list.GetValue() {
			ids = append(ids, deref(m.GetId()).(string))
		}
		slices.Sort(ids)
		return ids
	}
	if ids := listMembers(); !slices.Equal(ids, []string{"e811f8d3-2a5f-4e38-8c64-1f0a1c2b3d4e", "f00dcafe-0000-4000-8000-000000000002", "sdkcontractors"}) {
		t.Errorf("members: %v", ids)
	}
	if err := members.ByIdentityId("e811f8d3-2a5f-4e38-8c64-1f0a1c2b3d4e").Delete(t.Context(), nil); err != nil {
		t.Fatalf("remove member: %s", describe(err))
	}
	e.wire.wantStatus(t, http.StatusNoContent)
	if ids := listMembers(); !slices.Equal(ids, []string{"f00dcafe-0000-4000-8000-000000000002", "sdkcontractors"}) {
		t.Errorf("members after a removal: %v", ids)
	}
	_, err = members.ByIdentityId("e811f8d3-2a5f-4e38-8c64-1f0a1c2b3d4e").Get(t.Context(), nil)
	wantODataError(t, err, http.StatusNotFound, "itemNotFound")

	if err := group.Delete(t.Context(), nil); err != nil {
		t.Fatalf("delete group: %s", describe(err))
	}
	e.wire.wantStatus(t, http.StatusNoContent)
	_, err = group.Get(t.Context(), nil)
	wantODataError(t, err, http.StatusNotFound, "itemNotFound")
	_, err = members.Get(t.Context(), nil)
	wantODataError(t, err, http.StatusNotFound, "itemNotFound")
}

func newActivity(typ externalconnectors.ExternalActivityType, at time.Time, userID string, annotated bool) externalconnectors.ExternalActivityable {
	a := externalconnectors.NewExternalActivity()
	if annotated {
		// Graph fails an activity without its @odata.type, and the SDK's
		// constructor does not set it.
		a.SetOdataType(ptr("#microsoft.graph.externalConnectors.externalActivity"))
	}
	a.SetTypeEscaped(&typ)
	a.SetStartDateTime(&at)
	by := externalconnectors.NewIdentity()
	by.SetId(ptr(userID))
	user := externalconnectors.USER_IDENTITYTYPE
	by.SetTypeEscaped(&user)
	a.SetPerformedBy(by)
	return a
}

// TestAddActivitiesThroughTheSDK: the SDK's addActivities action, all
// accepted (200) and partly refused (207), with a result per activity.
func TestAddActivitiesThroughTheSDK(t *testing.T) {
	e := newEnvWith(t, map[string]string{"PROVISIONING_DELAY": "0s"})
	client := itemClient(t, e)
	readyForItems(t, e, "sdkacts")
	item := client.External().Connections().ByExternalConnectionId("sdkacts").Items().ByExternalItemId("sdk-act-1")
	if _, err := item.Put(t.Context(), newItem("sdk-act-1", "Acted on", []string{"a"}), nil); err != nil {
		t.Fatalf("put: %s", describe(err))
	}
	at := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	send := func(activities ...externalconnectors.ExternalActivityable) []externalconnectors.ExternalActivityResultable {
		t.Helper()
		body := external.NewConnectionsItemItemsItemMicrosoftGraphExternalConnectorsAddActivitiesAddActivitiesPostRequestBody()
		body.SetActivities(activities)
		res, err := item.MicrosoftGraphExternalConnectorsAddActivities().PostAsAddActivitiesPostResponse(t.Context(), body, nil)
		if err != nil {
			t.Fatalf("addActivities: %s", describe(err))
		}
		if got := res.GetValue(); len(got) != len(activities) {
			t.Fatalf("addActivities answered %d results for %d activities", len(got), len(activities))
		}
		return res.GetValue()
	}

	results := send(
		newActivity(externalconnectors.CREATED_EXTERNALACTIVITYTYPE, at, "u-creator", true),
		newActivity(externalconnectors.VIEWED_EXTERNALACTIVITYTYPE, at.Add(time.Minute), "u-viewer", true))
	e.wire.wantStatus(t, http.StatusOK)
	wantTypes := []externalconnectors.ExternalActivityType{externalconnectors.CREATED_EXTERNALACTIVITYTYPE, externalconnectors.VIEWED_EXTERNALACTIVITYTYPE}
	for i, r := range results {
		if r.GetError() != nil {
			t.Errorf("result %d: error %v", i, deref(r.GetError().GetMessage()))
		}
		if r.GetTypeEscaped() == nil || *r.GetTypeEscaped() != wantTypes[i] {
			t.Errorf("result %d type: %v", i, deref(r.GetTypeEscaped()))
		}
		if s := r.GetStartDateTime(); s == nil || !s.Equal(at.Add(time.Duration(i)*time.Minute)) {
			t.Errorf("result %d startDateTime: %v", i, deref(s))
		}
	}
	if by := results[1].GetPerformedBy(); by == nil || deref(by.GetId()) != "u-viewer" || *by.GetTypeEscaped() != externalconnectors.USER_IDENTITYTYPE {
		t.Errorf("result 1 performedBy: %v", by)
	}

	// One good, one without its @odata.type, one in the future: 207, and
	// each result says what became of its activity.
	results = send(
		newActivity(externalconnectors.MODIFIED_EXTERNALACTIVITYTYPE, at, "u-editor", true),
		newActivity(externalconnectors.COMMENTED_EXTERNALACTIVITYTYPE, at, "u-commenter", false),
		newActivity(externalconnectors.VIEWED_EXTERNALACTIVITYTYPE, time.Now().Add(24*time.Hour), "u-viewer", true))
	e.wire.wantStatus(t, http.StatusMultiStatus)
	if results[0].GetError() != nil {
		t.Errorf("the good activity was refused: %v", deref(results[0].GetError().GetMessage()))
	}
	for i, r := range results[1:] {
		if r.GetError() == nil || deref(r.GetError().GetCode()) != "InvalidActivity" || deref(r.GetError().GetMessage()) == "" {
			t.Errorf("result %d: error %v, want InvalidActivity with a message", i+1, r.GetError())
		}
	}

	_, err := client.External().Connections().ByExternalConnectionId("sdkacts").Items().ByExternalItemId("nosuchitem").
		MicrosoftGraphExternalConnectorsAddActivities().PostAsAddActivitiesPostResponse(t.Context(),
		func() external.ConnectionsItemItemsItemMicrosoftGraphExternalConnectorsAddActivitiesAddActivitiesPostRequestBodyable {
			b := external.NewConnectionsItemItemsItemMicrosoftGraphExternalConnectorsAddActivitiesAddActivitiesPostRequestBody()
			b.SetActivities([]externalconnectors.ExternalActivityable{newActivity(externalconnectors.VIEWED_EXTERNALACTIVITYTYPE, at, "u1", true)})
			return b
		}(), nil)
	wantODataError(t, err, http.StatusNotFound, "itemNotFound")
}
