"""The ``riogrande`` command line, also available as ``rio grande``.

A thin shell over the library: each subcommand parses its arguments, calls
one library function (:func:`riogrande.masking.write_mask`,
:func:`riogrande.masking.write_selector`, ...), shows progress on a terminal
and prints a summary or a JSON report. Library errors exit with code 1,
usage errors with code 2, an interrupted run with code 130.
"""
