"""The one error type for files and folders from outside that fail verification.

Model folders, cached downloads, model cards and `.pth` checkpoints come from
whoever published them. When one of them is refused, the caller gets an
UntrustedFileError whose message is one line: the file or folder, then why.
Command-line tools print that line and nothing else; library users catch one
type whichever loader refused the file.
"""


class UntrustedFileError(ValueError):
    """A file or folder from outside was refused; the message names it and the reason."""
