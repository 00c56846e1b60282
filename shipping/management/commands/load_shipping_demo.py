from django.core.management.base import BaseCommand

from shipping.demo.loader import load_shipping_demo


class Command(BaseCommand):
    help = "Load the demo shipment of the MX session (after load_demo); a second run changes nothing."

    def handle(self, *args, **options):
        self.stdout.write(load_shipping_demo())
