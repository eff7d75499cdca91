"""What the user gives the app: decoding uploaded bytes into an image, and the sample gallery."""
