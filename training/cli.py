"""What the training command-line tools share: argument errors as one line."""

import argparse


class OneLineParser(argparse.ArgumentParser):
    """Argument parser whose errors are one line (no usage dump), exit status 2."""

    def error(self, message: str):
        """Print ``prog: error: message`` and exit with status 2.

        :param message: what is wrong
        """
        self.exit(2, f'{self.prog}: error: {message}\n')
