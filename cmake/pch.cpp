// Anchor translation unit of the precompiled header target.
