"""Image captioning: data (COCO captions, procedural shapes), BLEU, the task."""
