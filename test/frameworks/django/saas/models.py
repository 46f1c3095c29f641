from django.db import models


class Organization(models.Model):
    name = models.TextField()


class Server(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE)
    name = models.TextField()


class Application(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE)
    server = models.ForeignKey(Server, on_delete=models.CASCADE)
    name = models.TextField()


class Folder(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE)
    parent = models.ForeignKey("self", null=True, on_delete=models.CASCADE)
    name = models.TextField()
