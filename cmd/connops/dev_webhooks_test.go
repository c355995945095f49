package main

import "testing"

// TestDevAllowsPrivateWebhooks: connops dev delivers to receivers on the
// developer's machine unless told otherwise.
func TestDevAllowsPrivateWebhooks(t *testing.T) {
	for env, want := range map[string]bool{"": true, "false": false, "true": true} {
		cfg, err := devConfig(envOf(map[string]string{"WEBHOOK_ALLOW_PRIVATE_NETWORKS": env}), devFlags{tenant: "contoso"})
		if err != nil {
			t.Fatal(err)
		}
		if cfg.WebhookAllowPrivateNetworks != want {
			t.Errorf("WEBHOOK_ALLOW_PRIVATE_NETWORKS=%q: allow private %v, want %v", env, cfg.WebhookAllowPrivateNetworks, want)
		}
	}
}
