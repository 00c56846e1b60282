from django.core.management.base import BaseCommand, CommandError

from techniques.loading import DefinitionFileError, definitions_dir, sync_definitions


class Command(BaseCommand):
    help = "Load the technique definition files into the vocabulary and report what changed."

    def add_arguments(self, parser):
        parser.add_argument("--directory", default=str(definitions_dir()), help="Folder of *.yaml definition files")

    def handle(self, *args, directory, **options):
        from pathlib import Path

        try:
            report = sync_definitions(Path(directory))
        except DefinitionFileError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(str(report))
