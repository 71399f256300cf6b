//! Name and label rules (filled in by the validation work).
