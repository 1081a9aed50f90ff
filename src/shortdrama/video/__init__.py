"""Video generators: one clip per scene."""
