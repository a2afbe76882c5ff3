"""Course content: typed content packs read from JSON or Markdown, validated, versioned and published."""
