"""Attribution: who made each change. ``match`` ties statements to drift items,
``sources`` reads the audit sources (one module per type), ``sqlrefs`` turns SQL
into the objects and paths it touches."""
