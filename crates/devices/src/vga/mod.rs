//! VGA with the Bochs VBE interface (being written).
