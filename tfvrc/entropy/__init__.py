"""Entropy models and range coding. Modules are imported one by one (the
package imports none), so a client that only range-codes
(`indexed_coding`) never loads the models' tensorflow_compression and
tensorflow_probability."""
