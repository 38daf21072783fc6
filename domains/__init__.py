"""Domain packs shipped with Tandem: one folder each (see README, "Your own domain")."""
