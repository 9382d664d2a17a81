"""Everything that runs a design: shapes, compiler, data, training, probes, attacks, export."""
